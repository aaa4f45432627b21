#!/usr/bin/env python3
"""tlsmatrix - HTTPS servers with every kind of certificate, for evcrawl's
TLS tests. Loopback only, free ports, stopped by pid.

    with TLSMatrix() as m:
        m.port["chain"]        # one nginx server block per case
        m.ca_file              # the root CA to pass with --cacert

It makes its own PKI with the openssl command (Debian package openssl): a
root CA, an intermediate CA signed by it, and leaf certificates signed by the
intermediate unless said otherwise. Each case is an nginx `server` on its own
port (nginx-light from Debian, as the test world uses), answering every path
with 200 and a body naming the case ("chain\\n", ...):

  case         certificate served                          expected of a client
  -----------  ------------------------------------------  -----------------------------
  chain        good.test leaf + intermediate (full chain)  verifies with the root CA
  leafonly     the same leaf without its intermediate      unknown issuer
  expired      good.test, not after 2021                   expired
  notyet       good.test, not before 2090                  not yet valid
  wrongname    other.test                                  name mismatch for good.test
  wildcard     *.wild.test                                 a.wild.test ok; a.b.wild.test not
  selfsigned   good.test, self-signed                      self-signed (ok with -k)
  ip           IP:127.0.0.1 only                           https://127.0.0.1 ok
  sni          one.test and two.test on one port, each     each name gets its own server
               with its own certificate (bodies "one\\n",
               "second\\n")
  tls10        chain, but the server speaks only TLS 1.0   protocol version
  close12      chain, TLS 1.2 only, closes after each      resumption (TLS 1.2 sessions)
               answer; $ssl_session_reused logged
  close13      the same with TLS 1.3 only                  resumption (TLS 1.3 tickets)
  plain        plain HTTP on the port                      not TLS

Every server also answers /to-plain with a 302 to http://good.test:PLAIN/
and /to-tls with a 302 to https://good.test:CHAIN/.

close12 and close13 log one line per request to DIR/resumed.log:
"CASE REUSED" where REUSED is "r" for a resumed session and "." otherwise.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NGINX = "/usr/sbin/nginx"
CASES = ["chain", "leafonly", "expired", "notyet", "wrongname", "wildcard", "selfsigned",
         "ip", "sni", "tls10", "close12", "close13", "plain"]

CA_CNF = """\
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = %(dir)s
database = %(dir)s/index.txt
new_certs_dir = %(dir)s/newcerts
serial = %(dir)s/serial
default_md = sha256
policy = policy_any
copy_extensions = copy
unique_subject = no
default_days = 3650
[ policy_any ]
commonName = supplied
"""


class MatrixError(RuntimeError):
    pass


def _run(argv, cwd):
    r = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True)
    if r.returncode:
        raise MatrixError("%s failed: %s" % (" ".join(argv[:3]), r.stderr.decode()[-800:]))


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PKI:
    """The throwaway CAs and leaves, as files in dir."""

    def __init__(self, dir):
        self.dir = dir
        os.makedirs(os.path.join(dir, "newcerts"))
        open(os.path.join(dir, "index.txt"), "w").close()
        with open(os.path.join(dir, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(dir, "ca.cnf"), "w") as f:
            f.write(CA_CNF % {"dir": dir})
        self.p = lambda name: os.path.join(dir, name)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        self.ec = ec
        _run(["openssl", "req", "-x509"] + ec + [
            "-keyout", self.p("root.key"), "-out", self.p("root.pem"), "-days", "3650",
            "-subj", "/CN=evcrawl matrix root",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir)
        self._csr("inter", "/CN=evcrawl matrix intermediate",
                  ["basicConstraints=critical,CA:TRUE,pathlen:0",
                   "keyUsage=critical,keyCertSign,cRLSign"])
        self._sign("inter", "root")

    def _csr(self, name, subj, exts):
        args = []
        for e in exts:
            args += ["-addext", e]
        _run(["openssl", "req"] + self.ec + ["-keyout", self.p(name + ".key"), "-out",
                                               self.p(name + ".csr"), "-subj", subj] + args,
             self.dir)

    def _sign(self, name, by, start=None, end=None):
        argv = ["openssl", "ca", "-batch", "-notext", "-config", self.p("ca.cnf"),
                "-cert", self.p(by + ".pem"), "-keyfile", self.p(by + ".key"),
                "-in", self.p(name + ".csr"), "-out", self.p(name + ".pem")]
        if start:
            argv += ["-startdate", start]
        if end:
            argv += ["-enddate", end]
        _run(argv, self.dir)

    def leaf(self, name, sans, start=None, end=None, self_signed=False):
        """name.pem (the leaf alone), name.key, and name-chain.pem (leaf and
        intermediate)."""
        exts = ["subjectAltName=" + ",".join(sans), "basicConstraints=CA:FALSE",
                "extendedKeyUsage=serverAuth"]
        if self_signed:
            args = []
            for e in exts:
                args += ["-addext", e]
            _run(["openssl", "req", "-x509"] + self.ec + [
                "-keyout", self.p(name + ".key"), "-out", self.p(name + ".pem"),
                "-days", "3650", "-subj", "/CN=" + sans[0].split(":", 1)[1]] + args, self.dir)
        else:
            self._csr(name, "/CN=" + sans[0].split(":", 1)[1], exts)
            self._sign(name, "inter", start, end)
        with open(self.p(name + "-chain.pem"), "w") as out:
            for part in [name] + ([] if self_signed else ["inter"]):
                with open(self.p(part + ".pem")) as f:
                    out.write(f.read())
        return self.p(name + "-chain.pem"), self.p(name + ".pem"), self.p(name + ".key")


NGINX_CONF = """\
# Generated by tests/env/tlsmatrix.py; not to be edited.
user root;
worker_processes 1;
daemon off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    log_format resumed '$server_name $ssl_session_reused';
    client_body_temp_path %(dir)s/tmp;
    proxy_temp_path %(dir)s/tmp;
    fastcgi_temp_path %(dir)s/tmp;
    uwsgi_temp_path %(dir)s/tmp;
    scgi_temp_path %(dir)s/tmp;
    default_type text/plain;
    keepalive_timeout 65;
    ssl_session_cache shared:matrix:1m;
    ssl_session_timeout 10m;
%(servers)s
}
"""


def _server(port, name, cert, key, body, extra="", ssl=True):
    extra += ("        location = /to-plain { return 302 http://good.test:%(plain)d/; }\n"
              "        location = /to-tls { return 302 https://good.test:%(chain)d/; }\n")
    return """
    server {
        listen 127.0.0.1:%(port)d%(ssl)s;
        server_name %(name)s;
%(certs)s        ssl_protocols TLSv1.2 TLSv1.3;
%(extra)s
        location / { return 200 "%(body)s\\n"; }
    }
""" % {"port": port, "ssl": " ssl" if ssl else "", "name": name, "extra": extra, "body": body,
       "certs": ("        ssl_certificate %s;\n        ssl_certificate_key %s;\n" % (cert, key)
                 if ssl else "")}


class TLSMatrix:
    def __init__(self):
        self.dir = None
        self.port = {}
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if not shutil.which("openssl") or not os.path.exists(NGINX):
            raise MatrixError("needs openssl and nginx (scripts/install-deps)")
        self.dir = tempfile.mkdtemp(prefix="evc-tls-")
        os.chmod(self.dir, 0o755)
        os.makedirs(os.path.join(self.dir, "tmp"))
        try:
            self._configure()
            self._start_nginx()
        except BaseException:
            self.stop()
            raise

    def _configure(self):
        pki = PKI(os.path.join(self.dir, "pki"))
        self.ca_file = pki.p("root.pem")
        good = pki.leaf("good", ["DNS:good.test"])
        old = pki.leaf("expired", ["DNS:good.test"], "200101000000Z", "210101000000Z")
        future = pki.leaf("notyet", ["DNS:good.test"], "20900101000000Z", "20991231000000Z")
        other = pki.leaf("other", ["DNS:other.test"])
        wild = pki.leaf("wild", ["DNS:*.wild.test"])
        selfs = pki.leaf("self", ["DNS:good.test"], self_signed=True)
        ip = pki.leaf("ip", ["IP:127.0.0.1"])
        one = pki.leaf("one", ["DNS:one.test"])
        two = pki.leaf("two", ["DNS:two.test"])
        log = os.path.join(self.dir, "resumed.log")
        self.resumed_log = log
        for c in CASES:
            self.port[c] = _free_port()
        P = self.port
        s = [
            _server(P["chain"], "chain", good[0], good[2], "chain"),
            _server(P["leafonly"], "leafonly", good[1], good[2], "leafonly"),
            _server(P["expired"], "expired", old[0], old[2], "expired"),
            _server(P["notyet"], "notyet", future[0], future[2], "notyet"),
            _server(P["wrongname"], "wrongname", other[0], other[2], "wrongname"),
            _server(P["wildcard"], "wildcard", wild[0], wild[2], "wildcard"),
            _server(P["selfsigned"], "selfsigned", selfs[0], selfs[2], "selfsigned"),
            _server(P["ip"], "ip", ip[0], ip[2], "ip"),
            _server(P["sni"], "one.test", one[0], one[2], "one"),
            _server(P["sni"], "two.test", two[0], two[2], "second"),
            _server(P["tls10"], "tls10", good[0], good[2], "tls10",
                    "        ssl_protocols TLSv1;\n"
                    "        ssl_ciphers DEFAULT@SECLEVEL=0;\n"),
            _server(P["close12"], "close12", good[0], good[2], "close12",
                    "        ssl_protocols TLSv1.2;\n        keepalive_timeout 0;\n"
                    "        access_log %s resumed;\n" % log),
            _server(P["close13"], "close13", good[0], good[2], "close13",
                    "        ssl_protocols TLSv1.3;\n        keepalive_timeout 0;\n"
                    "        access_log %s resumed;\n" % log),
            _server(P["plain"], "plain", None, None, "plain", ssl=False),
        ]
        # ssl_protocols given twice in one server: the later wins in nginx,
        # but keep the config clean: drop the default line where overridden.
        servers = []
        for block in s:
            if block.count("ssl_protocols") > 1:
                block = block.replace("        ssl_protocols TLSv1.2 TLSv1.3;\n", "", 1)
            servers.append(block)
        self.conf = os.path.join(self.dir, "nginx.conf")
        servers = "".join(servers) % {"plain": P["plain"], "chain": P["chain"]}
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF % {"dir": self.dir, "servers": servers})

    def _start_nginx(self):
        out = open(os.path.join(self.dir, "nginx.log"), "wb")
        self.proc = subprocess.Popen(
            [NGINX, "-p", self.dir + "/", "-c", self.conf,
             "-e", os.path.join(self.dir, "nginx-error.log")],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        out.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise MatrixError("nginx exited: %s" % self._log())
            if all(self._can_connect(p) for p in set(self.port.values())):
                return
            time.sleep(0.05)
        raise MatrixError("nginx did not start: %s" % self._log())

    def _log(self):
        try:
            with open(os.path.join(self.dir, "nginx-error.log")) as f:
                return f.read()[-1500:]
        except OSError:
            return "?"

    @staticmethod
    def _can_connect(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def resumed(self, case):
        """The $ssl_session_reused flags logged for case, in order."""
        try:
            with open(self.resumed_log) as f:
                return [line.split()[1] for line in f if line.split()[0] == case]
        except OSError:
            return []

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
