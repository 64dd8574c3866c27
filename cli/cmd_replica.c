/*
 * cli/cmd_replica.c - replicas through git (`auditfs clone`, `sync`, `push`) and the SSH form of
 * a verifier key for stock git (`auditfs allowed-signers`). Argument parsing and output over
 * include/auditfs/replica.h and auditfs/sshsig.h.
 */
#include "cli.h"

#include "auditfs/sshsig.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int
help_wanted(int argc, char **argv, const char *text)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(text, stdout);
            return 1;
        }
    }
    return 0;
}

/* ---- allowed-signers ---- */

static const char allowed_signers_help[] =
    "usage: auditfs allowed-signers --key FILE.pub [--public-key]\n"
    "\n"
    "Prints the line of an OpenSSH allowed-signers file for the ledger's verifier key, so that\n"
    "stock git checks the signature of every ledger commit without auditfs:\n"
    "\n"
    "  auditfs allowed-signers --key provider.pub > allowed_signers\n"
    "  git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=allowed_signers \\\n"
    "      log --show-signature            # or: git verify-commit COMMIT\n"
    "\n"
    "The same file works with `ssh-keygen -Y verify -f allowed_signers -I PRINCIPAL -n git`.\n"
    "\n"
    "  --key FILE.pub   the verifier key (never a key found in a repository)\n"
    "  --public-key     print only the OpenSSH public key (ssh-ed25519 AAAA...)\n"
    "\n"
    "Exit codes: 0 printed, 2 usage, 3 or 5 a malformed key file, 4 unreadable file.\n";

int
cmd_allowed_signers(int argc, char **argv)
{
    const char *key = NULL;
    int only_pk = 0, c;
    static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                         {"public-key", no_argument, 0, 'P'},
                                         {0, 0, 0, 0}};
    if (help_wanted(argc, argv, allowed_signers_help))
        return 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'P': only_pk = 1; break;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc || !key)
        return cli_usage_error("allowed-signers needs --key FILE.pub and no arguments");
    auditfs_verifier *v = NULL;
    char *line = NULL;
    int err = auditfs_verifier_load(&v, key);
    if (err)
        return cli_fail(err, key);
    err = only_pk ? auditfs_verifier_ssh_public(&line, v) : auditfs_verifier_allowed_signer(&line, v);
    auditfs_verifier_free(v);
    if (err)
        return cli_fail(err, key);
    printf("%s\n", line);
    free(line);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_IO;
}
