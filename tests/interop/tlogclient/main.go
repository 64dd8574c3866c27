// Command tlogclient is a standard C2SP tlog-tiles client built only on Go's reference
// golang.org/x/mod/sumdb/note and sumdb/tlog: it reads a log over HTTP the way a mirror or
// monitor would, with nothing from auditfs, and checks everything it can.
//
//	tlogclient URL VKEY [OLD-CHECKPOINT-FILE]
//
// It fetches URL/checkpoint and verifies its signature with VKEY (a verifier key string or a
// file holding one), reads hash tiles through tlog.TileHashReader (which authenticates every
// tile against the signed root), reads every entry bundle, and proves each entry's
// tlog.RecordHash into the tree with ProveRecord/CheckRecord. With OLD-CHECKPOINT-FILE it also
// proves that the new tree extends the old one (ProveTree/CheckTree). Exit status: 0 ok,
// 1 verification failed, 2 usage or I/O error.
package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var client = &http.Client{Timeout: 10 * time.Second}

type fetchError struct{ error }

func fetch(url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, fetchError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<26))
}

// c2spPath maps Go's sumdb tile path (tile/H/L/N[.p/W], H = 8) to the C2SP one (no H).
func c2spPath(t tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
}

type httpTiles struct{ base string }

func (h *httpTiles) Height() int { return 8 }
func (h *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := fetch(h.base + "/" + c2spPath(t))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}
func (h *httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func openCheckpoint(msg []byte, v note.Verifier) (tlog.Tree, string, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, "", err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return tlog.Tree{}, "", errors.New("checkpoint: too few lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return tlog.Tree{}, "", errors.New("checkpoint: bad size")
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return tlog.Tree{}, "", errors.New("checkpoint: bad root")
	}
	var h tlog.Hash
	copy(h[:], raw)
	return tlog.Tree{N: size, Hash: h}, lines[0], nil
}

func run() (int, error) {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		return 2, errors.New("usage: tlogclient URL VKEY [OLD-CHECKPOINT-FILE]")
	}
	base := strings.TrimSuffix(os.Args[1], "/")
	vkey := os.Args[2]
	if b, err := os.ReadFile(vkey); err == nil {
		vkey = strings.TrimSpace(string(b))
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return 2, err
	}
	msg, err := fetch(base + "/checkpoint")
	if err != nil {
		return 2, err
	}
	tree, origin, err := openCheckpoint(msg, v)
	if err != nil {
		return 1, fmt.Errorf("checkpoint: %v", err)
	}
	thr := tlog.TileHashReader(tree, &httpTiles{base})
	root, err := tlog.TreeHash(tree.N, thr)
	if err != nil {
		return 1, fmt.Errorf("tiles: %v", err)
	}
	if root != tree.Hash {
		return 1, errors.New("tiles do not hash to the signed root")
	}
	var seen int64
	for k := int64(0); k*256 < tree.N; k++ {
		w := tree.N - k*256
		if w > 256 {
			w = 256
		}
		t := tlog.Tile{H: 8, L: 0, N: k, W: int(w)}
		path := "tile/entries/" + strings.TrimPrefix(t.Path(), "tile/8/0/")
		data, err := fetch(base + "/" + path)
		if err != nil {
			return 1, err
		}
		for i := int64(0); i < w; i++ {
			if len(data) < 2 {
				return 1, fmt.Errorf("%s: truncated at entry %d", path, i)
			}
			n := int(data[0])<<8 | int(data[1])
			if len(data) < 2+n {
				return 1, fmt.Errorf("%s: entry %d overruns the bundle", path, i)
			}
			entry := data[2 : 2+n]
			data = data[2+n:]
			idx := k*256 + i
			p, err := tlog.ProveRecord(tree.N, idx, thr)
			if err != nil {
				return 1, fmt.Errorf("entry %d: %v", idx, err)
			}
			if err := tlog.CheckRecord(p, tree.N, tree.Hash, idx, tlog.RecordHash(entry)); err != nil {
				return 1, fmt.Errorf("entry %d (%s): not in the tree: %v", idx, path, err)
			}
			if !bytes.HasPrefix(entry, []byte("auditfs-entry/1\nseq "+strconv.FormatInt(idx, 10)+"\n")) {
				return 1, fmt.Errorf("entry %d: not an auditfs entry with that seq", idx)
			}
			seen++
		}
		if len(data) != 0 {
			return 1, fmt.Errorf("%s: %d trailing bytes", path, len(data))
		}
	}
	extra := ""
	if len(os.Args) == 4 {
		old, err := os.ReadFile(os.Args[3])
		if err != nil {
			return 2, err
		}
		ot, _, err := openCheckpoint(old, v)
		if err != nil {
			return 1, fmt.Errorf("old checkpoint: %v", err)
		}
		p, err := tlog.ProveTree(tree.N, ot.N, thr)
		if err != nil {
			return 1, fmt.Errorf("consistency: %v", err)
		}
		if err := tlog.CheckTree(p, tree.N, tree.Hash, ot.N, ot.Hash); err != nil {
			return 1, fmt.Errorf("the log does not extend the old checkpoint: %v", err)
		}
		extra = fmt.Sprintf(", extends the old checkpoint of size %d", ot.N)
	}
	fmt.Printf("ok: %s: tree size %d, %d entries proved from bundles and tiles%s\n", origin,
		tree.N, seen, extra)
	return 0, nil
}

func main() {
	code, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlogclient:", err)
	}
	os.Exit(code)
}
