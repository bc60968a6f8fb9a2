/* SPDX-License-Identifier: BSD-3-Clause */
/* `aisio xal` as its own program, so the XAL tests do not depend on the rest of the front end. */
#include "commands.h"

int main(int argc, char **argv)
{
	argv[0] = "xal";
	return cmd_xal(argc, argv);
}
