/* cli/cmd_incident.c - incident bundles, verify-bundle, archive. */
#include "cli.h"

int
cmd_incident(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return EXIT_USAGE;
}

int
cmd_verify_bundle(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return EXIT_USAGE;
}

int
cmd_archive(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return EXIT_USAGE;
}
