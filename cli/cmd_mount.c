/* cli/cmd_mount.c - placeholder until the FUSE front end lands. */
#include "cli.h"

int
cmd_mount(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "auditfs: mount is not built yet\n");
    return EXIT_USAGE;
}

int
cmd_umount(int argc, char **argv)
{
    return cmd_mount(argc, argv);
}
