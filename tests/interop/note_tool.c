/*
 * tests/interop/note_tool.c - the auditfs side of the Go interop test (note_interop.sh).
 *
 *   note_tool genkey NAME OUTFILE            new key: OUTFILE (0600) and OUTFILE.pub
 *   note_tool sign SKEYFILE TEXTFILE         prints the signed note
 *   note_tool verify VKEYFILE NOTEFILE       exit 0 if the note verifies
 *   note_tool cosign SKEYFILE NOTEFILE TIME  prints the note with a tlog-cosignature v1 line
 *   note_tool checkpoint VKEYFILE NOTEFILE [ORIGIN]
 *                                            verifies, parses and prints origin, size, root
 *
 * Exit status: 0 ok, 1 verification or format failure, 2 usage or I/O error.
 */
#include "auditfs/cosig.h"
#include "auditfs/note.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

static int
report(int err)
{
    fprintf(stderr, "note_tool: %s: %s\n", auditfs_error_name(err), auditfs_error_last());
    return err == AUDITFS_EVERIFY || err == AUDITFS_EFORMAT || err == AUDITFS_EKEY ? 1 : 2;
}

static int
cmd_genkey(const char *name, const char *path)
{
    auditfs_signer *s = NULL;
    auditfs_verifier *v = NULL;
    char *vkey = NULL;
    char pub[4096];
    FILE *f = NULL;
    int err, rc = 0;
    if ((err = auditfs_signer_generate(&s, name)) != 0 ||
        (err = auditfs_signer_save(s, path)) != 0 || (err = auditfs_signer_verifier(&v, s)) != 0 ||
        (err = auditfs_verifier_format(&vkey, v)) != 0) {
        rc = report(err);
        goto cleanup;
    }
    snprintf(pub, sizeof pub, "%s.pub", path);
    if ((f = fopen(pub, "wx")) == NULL || fprintf(f, "%s\n", vkey) < 0 || fclose(f) != 0) {
        perror(pub);
        rc = 2;
    }
cleanup:
    free(vkey);
    auditfs_verifier_free(v);
    auditfs_signer_free(s);
    return rc;
}

static int
cmd_sign(const char *key, const char *text_path)
{
    auditfs_signer *s = NULL;
    char *text = NULL, *note = NULL;
    size_t len = 0, note_len = 0;
    int err, rc = 0;
    if ((err = auditfs_signer_load(&s, key)) != 0 ||
        (err = afs_read_file(&text, &len, text_path, AUDITFS_NOTE_MAX_BYTES)) != 0 ||
        (err = auditfs_note_sign(&note, &note_len, text, len, s)) != 0) {
        rc = report(err);
        goto cleanup;
    }
    if (fwrite(note, 1, note_len, stdout) != note_len || fflush(stdout) != 0)
        rc = 2;
cleanup:
    free(note);
    free(text);
    auditfs_signer_free(s);
    return rc;
}

static int
cmd_verify(const char *key, const char *note_path, bool checkpoint, const char *origin)
{
    auditfs_verifier *v = NULL;
    auditfs_checkpoint c;
    char *note = NULL;
    char root[AFS_B64_LEN(AUDITFS_HASH_BYTES) + 1];
    size_t len = 0, text_len = 0;
    int err, rc = 0;
    if ((err = auditfs_verifier_load(&v, key)) != 0 ||
        (err = afs_read_file(&note, &len, note_path, AUDITFS_NOTE_MAX_BYTES)) != 0) {
        rc = report(err);
        goto cleanup;
    }
    err = checkpoint ? auditfs_checkpoint_open(&c, note, len, v, origin)
                     : auditfs_note_verify(&text_len, note, len, v);
    if (err) {
        rc = report(err);
        goto cleanup;
    }
    if (checkpoint) {
        afs_b64_encode(root, c.root.b, sizeof c.root.b);
        printf("%s\n%llu\n%s\n", c.origin, (unsigned long long)c.size, root);
    }
cleanup:
    free(note);
    auditfs_verifier_free(v);
    return rc;
}

static int
cmd_cosign(const char *key, const char *note_path, const char *when)
{
    auditfs_signer *s = NULL;
    auditfs_verifier *w = NULL;
    char *note = NULL, *line = NULL, *out = NULL;
    size_t len = 0, line_len = 0, out_len = 0, text_len, off;
    int err, rc = 0;
    if ((err = auditfs_signer_load(&s, key)) != 0 || (err = auditfs_signer_verifier(&w, s)) != 0 ||
        (err = afs_read_file(&note, &len, note_path, AUDITFS_NOTE_MAX_BYTES)) != 0 ||
        (err = auditfs_note_split(&text_len, &off, note, len)) != 0 ||
        (err = auditfs_cosig_sign(&line, &line_len, note, text_len, s, strtoull(when, NULL, 10))) !=
            0 ||
        (err = auditfs_cosig_merge(&out, &out_len, NULL, note, len, line, line_len, w)) != 0) {
        rc = report(err);
        goto cleanup;
    }
    if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0)
        rc = 2;
cleanup:
    free(out);
    free(line);
    free(note);
    auditfs_verifier_free(w);
    auditfs_signer_free(s);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "cosign") == 0)
        return cmd_cosign(argv[2], argv[3], argv[4]);
    if (argc == 4 && strcmp(argv[1], "genkey") == 0)
        return cmd_genkey(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "sign") == 0)
        return cmd_sign(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argv[2], argv[3], false, NULL);
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "checkpoint") == 0)
        return cmd_verify(argv[2], argv[3], true, argc == 5 ? argv[4] : NULL);
    fprintf(stderr, "usage: note_tool genkey NAME OUTFILE | sign SKEYFILE TEXTFILE |\n"
                    "       verify VKEYFILE NOTEFILE | checkpoint VKEYFILE NOTEFILE [ORIGIN]\n");
    return 2;
}
