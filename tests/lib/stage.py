"""stage.py - looking at what an install put in a staging directory (shared by
test_library.py and test_python_package.py)."""

import os


def files_under(d):
    """Files and symlinks under d, as sorted relative paths."""
    out = []
    for dirpath, dirnames, filenames in os.walk(d):
        for name in filenames + [n for n in dirnames if os.path.islink(os.path.join(dirpath, n))]:
            out.append(os.path.relpath(os.path.join(dirpath, name), d))
    return sorted(out)
