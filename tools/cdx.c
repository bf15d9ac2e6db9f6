/* cdx.c — the cdx command-line tool (placeholder until the loader lands). */
#include <stdio.h>
#include "cdx.h"
int main(void)
{
	printf("cdx %s\n", CDX_VERSION);
	return 0;
}
