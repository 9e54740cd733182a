/* w32tm.exe for wine 8, which does not ship one: a test stand-in, never shipped. Built with
 * mingw by tests/wine/setup.sh and copied into the test prefix's system32, so the Windows
 * build's `w32tm /query /source` runs under wine. `w32tm /query /source` prints
 * AZS_TEST_W32TM_SOURCE (what a test says the node follows: "Local CMOS Clock",
 * "time.contoso.com,0x8", ...); without it, it fails the way w32tm does when the W32Time
 * service is not running. Any other command line is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *source = getenv("AZS_TEST_W32TM_SOURCE");
    if (argc != 3 || strcmp(argv[1], "/query") != 0 || strcmp(argv[2], "/source") != 0) {
        fprintf(stderr, "test w32tm: only /query /source\n");
        return 87;
    }
    if (!source) {
        printf("The following error occurred: The service has not been started. (0x80070426)\n");
        return 1;
    }
    printf("%s\n", source);
    return 0;
}
