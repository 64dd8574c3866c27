// Command gonote is the Go side of auditfs's interoperability tests: it exercises
// golang.org/x/mod/sumdb/note and sumdb/tlog (the reference implementations) on files written
// by auditfs, and writes files for auditfs to read. Exit status: 0 ok, 1 verification failed,
// 2 usage or I/O error.
//
// Key arguments (VKEY, SKEY) are either the key string itself or a file holding it.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  gonote genkey NAME
  gonote verify-note VKEY FILE
  gonote sign-note SKEY FILE
  gonote check-inclusion VKEY CHECKPOINTNOTE PROOFJSON LEAFFILE
  gonote check-consistency VKEY OLDNOTE NEWNOTE PROOFJSON
  gonote verify-cosig LOGVKEY WITNESSVKEY FILE
`)
	os.Exit(2)
}

// failure is a verification failure (exit 1), as opposed to a usage or I/O error (exit 2).
type failure struct{ err error }

func (f failure) Error() string { return f.err.Error() }

func fail(format string, args ...any) error {
	return failure{fmt.Errorf(format, args...)}
}

func readKey(arg string) (string, error) {
	if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		data, err := os.ReadFile(arg)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(data)), nil
	}
	return arg, nil
}

func verifier(arg string) (note.Verifier, error) {
	k, err := readKey(arg)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(k)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %v", err)
	}
	return v, nil
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// openCheckpoint verifies a C2SP checkpoint note and parses its first three lines (tlog.ParseTree
// wants the older "go.sum database tree" layout, so the body is parsed here).
func openCheckpoint(v note.Verifier, path string) (checkpoint, error) {
	var c checkpoint
	data, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	n, err := note.Open(data, note.VerifierList(v))
	if err != nil {
		return c, fail("%s: %v", path, err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 || lines[0] == "" {
		return c, fail("%s: checkpoint body has fewer than three lines", path)
	}
	c.origin = lines[0]
	size, err := strconv.ParseUint(lines[1], 10, 63)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return c, fail("%s: bad tree size %q", path, lines[1])
	}
	c.size = int64(size)
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, fail("%s: bad root hash %q", path, lines[2])
	}
	copy(c.root[:], root)
	return c, nil
}

func decodeHashes(b64 []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(b64))
	for i, s := range b64 {
		h, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(h) != tlog.HashSize {
			return nil, fail("proof hash %d: not base64 of %d bytes", i, tlog.HashSize)
		}
		copy(out[i][:], h)
	}
	return out, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fail("%s: %v", path, err)
	}
	return nil
}

func run(args []string) error {
	if len(args) < 1 {
		usage()
	}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "genkey" && len(rest) == 1:
		skey, vkey, err := note.GenerateKey(rand.Reader, rest[0])
		if err != nil {
			return err
		}
		fmt.Printf("%s\n%s\n", skey, vkey)
		return nil

	case cmd == "verify-note" && len(rest) == 2:
		v, err := verifier(rest[0])
		if err != nil {
			return err
		}
		data, err := os.ReadFile(rest[1])
		if err != nil {
			return err
		}
		n, err := note.Open(data, note.VerifierList(v))
		if err != nil {
			return fail("%s: %v", rest[1], err)
		}
		fmt.Print(n.Text)
		return nil

	case cmd == "sign-note" && len(rest) == 2:
		k, err := readKey(rest[0])
		if err != nil {
			return err
		}
		s, err := note.NewSigner(k)
		if err != nil {
			return fmt.Errorf("signer key: %v", err)
		}
		text, err := os.ReadFile(rest[1])
		if err != nil {
			return err
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, s)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(msg)
		return err

	case cmd == "check-inclusion" && len(rest) == 4:
		v, err := verifier(rest[0])
		if err != nil {
			return err
		}
		c, err := openCheckpoint(v, rest[1])
		if err != nil {
			return err
		}
		var p struct {
			LeafIndex *int64   `json:"leaf_index"`
			TreeSize  *int64   `json:"tree_size"`
			AuditPath []string `json:"audit_path"`
		}
		if err := readJSON(rest[2], &p); err != nil {
			return err
		}
		if p.LeafIndex == nil || p.TreeSize == nil || p.AuditPath == nil {
			return fail("%s: missing leaf_index, tree_size or audit_path", rest[2])
		}
		if *p.TreeSize != c.size {
			return fail("proof is for tree size %d, checkpoint has %d", *p.TreeSize, c.size)
		}
		path, err := decodeHashes(p.AuditPath)
		if err != nil {
			return err
		}
		leaf, err := os.ReadFile(rest[3])
		if err != nil {
			return err
		}
		if *p.LeafIndex < 0 || *p.LeafIndex >= c.size {
			return fail("leaf index %d outside tree of size %d", *p.LeafIndex, c.size)
		}
		if err := tlog.CheckRecord(path, c.size, c.root, *p.LeafIndex, tlog.RecordHash(leaf)); err != nil {
			return fail("inclusion: %v", err)
		}
		return nil

	case cmd == "check-consistency" && len(rest) == 4:
		v, err := verifier(rest[0])
		if err != nil {
			return err
		}
		older, err := openCheckpoint(v, rest[1])
		if err != nil {
			return err
		}
		newer, err := openCheckpoint(v, rest[2])
		if err != nil {
			return err
		}
		if older.origin != newer.origin {
			return fail("origins differ: %q and %q", older.origin, newer.origin)
		}
		var p struct {
			First       *int64   `json:"first"`
			Second      *int64   `json:"second"`
			Consistency []string `json:"consistency"`
		}
		if err := readJSON(rest[3], &p); err != nil {
			return err
		}
		if p.First == nil || p.Second == nil || p.Consistency == nil {
			return fail("%s: missing first, second or consistency", rest[3])
		}
		if *p.First != older.size || *p.Second != newer.size {
			return fail("proof is for sizes %d->%d, checkpoints are %d->%d", *p.First, *p.Second,
				older.size, newer.size)
		}
		proof, err := decodeHashes(p.Consistency)
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(proof, newer.size, newer.root, older.size, older.root); err != nil {
			return fail("consistency: %v", err)
		}
		return nil

	case cmd == "verify-cosig" && len(rest) == 3:
		return verifyCosig(rest[0], rest[1], rest[2])
	}
	usage()
	return nil
}

// verifyCosig opens a checkpoint note with the log key (note.Open, which must ignore the
// cosignature lines), then checks the witness's C2SP tlog-cosignature v1 lines independently of
// auditfs: key id SHA-256(name || "\n" || 0x04 || pk)[:4], message "cosignature/v1\ntime T\n" ||
// body, Ed25519 from the Go standard library. Prints each verified timestamp.
func verifyCosig(logKey, witnessKey, path string) error {
	v, err := verifier(logKey)
	if err != nil {
		return err
	}
	wk, err := readKey(witnessKey)
	if err != nil {
		return err
	}
	parts := strings.SplitN(wk, "+", 3)
	if len(parts) != 3 {
		return fmt.Errorf("witness key: malformed")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || (raw[0] != 1 && raw[0] != 4) {
		return fmt.Errorf("witness key: malformed key")
	}
	name, pk := parts[0], ed25519.PublicKey(raw[1:])
	h := sha256.Sum256(append([]byte(name+"\n\x04"), pk...))
	id := binary.BigEndian.Uint32(h[:4])
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n, err := note.Open(data, note.VerifierList(v))
	if err != nil {
		return fail("%s: note.Open with the log key: %v", path, err)
	}
	found := 0
	for _, s := range n.UnverifiedSigs {
		if s.Name != name || s.Hash != id {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(s.Base64)
		if err != nil || len(sig) != 76 {
			return fail("cosignature by %s: not 76 bytes", name)
		}
		ts := binary.BigEndian.Uint64(sig[4:12])
		var msg bytes.Buffer
		fmt.Fprintf(&msg, "cosignature/v1\ntime %d\n%s", ts, n.Text)
		if !ed25519.Verify(pk, msg.Bytes(), sig[12:]) {
			return fail("cosignature by %s at %d does not verify", name, ts)
		}
		fmt.Println(ts)
		found++
	}
	if found == 0 {
		return fail("no cosignature by %s+%08x", name, id)
	}
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gonote:", err)
		var f failure
		if errors.As(err, &f) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}
