/* evcrawl command line (placeholder until the fetch engine lands). */
#include <stdio.h>
#include <string.h>

#include "evcrawl/loop.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("evcrawl %s\n", EVC_VERSION_STRING);
		return 0;
	}
	fprintf(stderr, "evcrawl: the fetch engine is not built yet\n");
	return 2;
}
