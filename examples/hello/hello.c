/* hello.c — the example program that examples/hello's pipeline builds,
 * tests and packages. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	const char *who = argc > 1 ? argv[1] : "world";
	if (strlen(who) > 64) {
		fprintf(stderr, "hello: name too long\n");
		return 2;
	}
	printf("hello, %s\n", who);
	return 0;
}
