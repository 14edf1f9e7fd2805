// Package testutil holds helpers the packages' tests share: checks that a
// call panics with a clear message, or does not panic at all (the bad-
// argument tests of decision #47).
package testutil

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// NoPanic runs f and fails t, naming what, if f panics.
func NoPanic(t testing.TB, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
		}
	}()
	f()
}

// WantPanic runs f and fails t, naming what, unless f panics with a string
// message (not a runtime error from deeper down, such as an index or
// makeslice panic) that holds every part.
func WantPanic(t testing.TB, what string, f func(), parts ...string) {
	t.Helper()
	msg := panicMessage(t, what, f)
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("%s: panic %q lacks %q", what, msg, p)
		}
	}
}

// panicMessage runs f and returns the string it panicked with, failing t
// when f does not panic or panics with something other than a string.
func panicMessage(t testing.TB, what string, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Errorf("%s: no panic", what)
			return
		}
		s, ok := r.(string)
		if !ok {
			t.Errorf("%s: panic %T %v, want a string message", what, r, r)
		}
		msg = s
	}()
	f()
	return ""
}

// SameBits reports whether a and b hold the same float32 values bit for
// bit (NaN payloads and the sign of zero included).
func SameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// HashBits returns a 64-bit FNV-1a hash (16 hex digits) of the bits of the
// values of vs, in order: a short fingerprint that a test's child
// processes print so that the parent compares their results bit for bit.
func HashBits(vs ...[]float32) string {
	h := fnv.New64a()
	var buf [4]byte
	for _, v := range vs {
		for _, f := range v {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(f))
			h.Write(buf[:])
		}
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// ChildHashes runs the test helper of the running test binary in a child
// process with GOMAXPROCS procs and env set to 1, and returns the hashes it
// printed, one "B3 name hash" line each, by name. The child must print
// "B3 workers N" with its number of workers, which must be procs; that line
// is checked and left out. It fails t if the child fails or ran another
// number of workers.
func ChildHashes(t testing.TB, helper, env string, procs int) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"=1", fmt.Sprintf("GOMAXPROCS=%d", procs))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("GOMAXPROCS=%d: %v\n%s", procs, err, out)
	}
	hashes := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "B3 "); ok {
			if name, h, ok := strings.Cut(line, " "); ok {
				hashes[name] = h
			}
		}
	}
	if hashes["workers"] != fmt.Sprint(procs) {
		t.Fatalf("GOMAXPROCS=%d: the child ran %q workers\n%s", procs, hashes["workers"], out)
	}
	delete(hashes, "workers")
	return hashes
}
