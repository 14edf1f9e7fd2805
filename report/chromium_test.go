package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a Chromium (or Chrome) binary, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// probeScript records, once the page has loaded, each image's
// naturalWidth (0 when it did not decode) as an attribute, for
// --dump-dom to show.
const probeScript = `<script>window.addEventListener("load", function () {
  for (const img of document.images) img.setAttribute("data-natural-width", img.naturalWidth);
  document.body.setAttribute("data-probed", document.images.length);
});</script>`

// TestReportInChromium opens the report of a short real run (the training
// loop on a small data set, an autoencoder so that every section has a
// figure, with an evaluation) in headless Chromium: the DOM must hold
// every section, every image must have decoded, and the screenshot must
// not be blank. It skips without a chromium binary (.ci/run installs
// Debian's chromium).
func TestReportInChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("no chromium binary (apt-get install chromium)")
	}
	split := tinySplit(t, 48, 24)
	dir := tinyRun(t, split, "ae", true)
	out := filepath.Join(t.TempDir(), "report.html")
	if _, err := WriteRun(dir, out, Options{Split: split, TrainImages: 40, TestImages: 20, Queries: 4, K: 3}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// A copy with the probe, so that the report itself stays script-free.
	probed := filepath.Join(t.TempDir(), "probed.html")
	if err := os.WriteFile(probed, bytes.Replace(page, []byte("</body>"), []byte(probeScript+"</body>"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	browse := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
			"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=3000"}, args...)
		cmd := exec.CommandContext(ctx, bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
		}
		return b
	}
	dom := string(browse("--dump-dom", "file://"+probed))
	m := regexp.MustCompile(`data-probed="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the probe did not run; DOM starts %.300q", dom)
	}
	for _, id := range sections {
		if !strings.Contains(dom, `id="`+id+`"`) {
			t.Errorf("DOM lacks section %q", id)
		}
	}
	widths := regexp.MustCompile(`data-natural-width="(\d+)"`).FindAllStringSubmatch(dom, -1)
	if len(widths) == 0 || m[1] != strconv.Itoa(len(widths)) {
		t.Errorf("%s images in the page, %d probed", m[1], len(widths))
	}
	for i, w := range widths {
		if w[1] == "0" {
			t.Errorf("image %d did not decode (naturalWidth 0)", i)
		}
	}
	if len(widths) < 6 {
		t.Errorf("%d images, want curves, neighbours, map and reconstructions", len(widths))
	}
	shot := filepath.Join(t.TempDir(), "shot.png")
	browse("--window-size=1280,1600", "--screenshot="+shot, "file://"+out)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	dark, colours := 0, map[uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r+g+bl < 3*0xe000 {
				dark++
			}
			colours[(r>>11)<<10|(g>>11)<<5|bl>>11] = true
		}
	}
	if frac := float64(dark) / float64(b.Dx()*b.Dy()/4); frac < 0.01 || len(colours) < 16 {
		t.Errorf("screenshot looks blank: %.2f%% non-white pixels, %d colours", 100*frac, len(colours))
	}
}
