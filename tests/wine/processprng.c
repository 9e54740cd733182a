/* bcryptprimitives.dll for wine 8: Rust's std (1.78+) imports ProcessPrng from
 * bcryptprimitives.dll, which wine 8.0 does not ship. This DLL exports it and forwards
 * to RtlGenRandom (advapi32!SystemFunction036), which wine has. Built with mingw by
 * tests/wine/setup.sh and copied into the test prefix's system32; never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
