package data

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFolderClasses(t *testing.T) {
	dir := t.TempDir()
	f := func(seed int) func(x, y int) [3]uint8 {
		return func(x, y int) [3]uint8 {
			return [3]uint8{uint8(seed + x*40), uint8(seed + y*30), uint8(200 - seed - x - y)}
		}
	}
	cat0, cat0want := rgbImage(5, 4, f(1))
	cat1, cat1want := rgbImage(5, 4, f(2))
	dog0, dog0want := rgbImage(5, 4, f(3))
	smooth, smoothWant := rgbImage(5, 4, func(x, y int) [3]uint8 { return [3]uint8{100, 150, 200} })
	writeFile(t, dir, "cat/b.png", pngBytes(t, cat1))
	writeFile(t, dir, "cat/a.png", pngBytes(t, cat0))
	writeFile(t, dir, "cat/.DS_Store", []byte("junk")) // hidden: ignored
	writeFile(t, dir, "dog/a.png", pngBytes(t, dog0))  // before sub/ in lexical order
	writeFile(t, dir, "dog/sub/y.jpg", jpegBytes(t, smooth))
	s, err := Open("folder:"+dir, Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Classes, []string{"cat", "dog"}) || s.Train.NumClasses() != 2 || s.Train.Len() != 4 || s.Test != nil {
		t.Fatalf("classes %v len %d test %v", s.Classes, s.Train.Len(), s.Test)
	}
	if c, h, w := s.Train.Shape(); c != 3 || h != 4 || w != 5 {
		t.Fatalf("shape %d %d %d", c, h, w)
	}
	for i, want := range [][]byte{cat0want, cat1want, dog0want} {
		if got := image0(t, s.Train, i); !bytes.Equal(got, want) {
			t.Fatalf("image %d = %v, want %v", i, got, want)
		}
	}
	if d := maxDiff(image0(t, s.Train, 3), smoothWant); d > 3 {
		t.Fatalf("JPEG differs by %d", d)
	}
	for i, want := range []int{0, 0, 1, 1} {
		if s.Train.Label(i) != want {
			t.Fatalf("label %d = %d", i, s.Train.Label(i))
		}
	}
	// Hold-out: deterministic, disjoint, complete.
	h1, _ := Open("folder:"+dir, Options{HoldOut: 0.25, Seed: 3})
	h2, _ := Open("folder:"+dir, Options{HoldOut: 0.25, Seed: 3})
	if h1.Train.Len() != 3 || h1.Test.Len() != 1 || !bytes.Equal(image0(t, h1.Test, 0), image0(t, h2.Test, 0)) {
		t.Fatal("hold-out")
	}
}

func TestFolderFlatGrayResize(t *testing.T) {
	dir := t.TempDir()
	g := image.NewGray(image.Rect(0, 0, 6, 8))
	for i := range g.Pix {
		g.Pix[i] = uint8(i)
	}
	writeFile(t, dir, "g1.png", pngBytes(t, g))
	u := image.NewGray(image.Rect(0, 0, 3, 3))
	for i := range u.Pix {
		u.Pix[i] = 77
	}
	writeFile(t, dir, "g2.png", pngBytes(t, u))
	// Different sizes need a size.
	_, err := Open("folder:"+dir, Options{})
	wantErr(t, err, "--size", "g2.png", "3x3")
	s, err := Open("folder:"+dir, Options{Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := s.Train.Shape(); c != 1 || h != 3 || w != 3 || s.Train.NumClasses() != 0 || s.Train.Label(0) != -1 {
		t.Fatalf("shape %d %d %d classes %d", c, h, w, s.Train.NumClasses())
	}
	if got := image0(t, s.Train, 1); !bytes.Equal(got, bytes.Repeat([]byte{77}, 9)) {
		t.Fatalf("3x3 image = %v", got)
	}
	// Size 6: the central 6x6 square of the 6x8 image (rows 1..6), exact.
	s, err = Open("folder:"+dir, Options{Size: 6})
	if err != nil {
		t.Fatal(err)
	}
	if got := image0(t, s.Train, 0); !bytes.Equal(got, g.Pix[6:42]) {
		t.Fatalf("center crop = %v", got)
	}
}

func TestFolderTrainTest(t *testing.T) {
	dir := t.TempDir()
	red, _ := rgbImage(2, 2, func(x, y int) [3]uint8 { return [3]uint8{255, 0, 0} })
	gray := image.NewGray(image.Rect(0, 0, 2, 2))
	gray.Pix = []uint8{1, 2, 3, 4}
	writeFile(t, dir, "train/a/1.png", pngBytes(t, red))
	writeFile(t, dir, "train/b/1.png", pngBytes(t, red))
	writeFile(t, dir, "test/b/1.png", pngBytes(t, gray))
	s, err := Open("folder:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Len() != 2 || s.Test.Len() != 1 || s.Test.Label(0) != 1 || s.Test.NumClasses() != 2 {
		t.Fatalf("train %d test %d label %d", s.Train.Len(), s.Test.Len(), s.Test.Label(0))
	}
	if c, _, _ := s.Test.Shape(); c != 3 {
		t.Fatal("gray test part not expanded to RGB")
	}
	if got := image0(t, s.Test, 0); !bytes.Equal(got, []byte{1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}) {
		t.Fatalf("expanded gray = %v", got)
	}
	_, err = Open("folder:"+dir, Options{HoldOut: 0.5})
	wantErr(t, err, dir, "has train/ and test/")
	writeFile(t, dir, "test/zebra/1.png", pngBytes(t, red))
	_, err = Open("folder:"+dir, Options{})
	wantErr(t, err, "zebra", "not among the train classes")
}

func TestFolderErrors(t *testing.T) {
	img, _ := rgbImage(4, 4, func(x, y int) [3]uint8 { return [3]uint8{1, 2, 3} })
	good := pngBytes(t, img)
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		bad   string // file the error must name ("" for the folder)
		want  string
	}{
		{"non-image", map[string][]byte{"a/1.png": good, "a/notes.txt": []byte("hello")}, "a/notes.txt", "not a PNG, JPEG"},
		{"corrupt png", map[string][]byte{"a/1.png": good, "b/2.png": good[:len(good)/2]}, "b/2.png", "decode"},
		{"corrupt jpeg", map[string][]byte{"1.jpg": jpegBytes(t, img)[:200], "2.png": good}, "1.jpg", "decode"},
		{"png named jpg is fine, text named png is not", map[string][]byte{"1.jpg": good, "2.png": []byte("not really")}, "2.png", "not a PNG"},
		{"empty class", map[string][]byte{"a/1.png": good, "b/.keep": nil}, "", "class folder b has no images"},
		{"mixed", map[string][]byte{"a/1.png": good, "2.png": good}, "", "mixes class sub-folders"},
		{"empty", map[string][]byte{}, "", "is empty"},
		{"only hidden", map[string][]byte{".x.png": good}, "", "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tc.files {
				writeFile(t, dir, name, b)
			}
			_, err := Open("folder:"+dir, Options{Workers: 2})
			wantErr(t, err, filepath.Join(dir, tc.bad), tc.want)
		})
	}
}

func TestTinyImageNet(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "tiny-imagenet-200")
	writeFile(t, root, "wnids.txt", []byte("n02\nn01\n"))
	words := func(v uint8) func(x, y int) [3]uint8 {
		return func(x, y int) [3]uint8 { return [3]uint8{v, v / 2, 255 - v} }
	}
	flat := map[string][]byte{}
	for _, tc := range []struct {
		path string
		v    uint8
	}{{"train/n01/images/n01_0.JPEG", 10}, {"train/n01/images/n01_1.JPEG", 60}, {"train/n02/images/n02_0.JPEG", 120}, {"val/images/val_0.JPEG", 180}, {"val/images/val_1.JPEG", 240}} {
		img, want := rgbImage(64, 64, words(tc.v))
		writeFile(t, root, tc.path, jpegBytes(t, img))
		flat[tc.path] = want
	}
	g := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range g.Pix {
		g.Pix[i] = 90
	}
	writeFile(t, root, "train/n02/images/n02_1.JPEG", jpegBytes(t, g))
	writeFile(t, root, "val/val_annotations.txt", []byte("val_0.JPEG\tn02\t0\t1\t60\t60\nval_1.JPEG\tn01\t3\t3\t50\t50\n"))
	s, err := Open("tinyimagenet:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Classes, []string{"n01", "n02"}) || s.Train.Len() != 4 || s.Test.Len() != 2 || s.Train.NumClasses() != 2 {
		t.Fatalf("classes %v lens %d %d", s.Classes, s.Train.Len(), s.Test.Len())
	}
	if c, h, w := s.Train.Shape(); c != 3 || h != 64 || w != 64 {
		t.Fatalf("shape %d %d %d", c, h, w)
	}
	for i, p := range []string{"train/n01/images/n01_0.JPEG", "train/n01/images/n01_1.JPEG", "train/n02/images/n02_0.JPEG"} {
		if d := maxDiff(image0(t, s.Train, i), flat[p]); d > 3 {
			t.Fatalf("%s differs by %d", p, d)
		}
	}
	if d := maxDiff(image0(t, s.Train, 3), bytes.Repeat([]byte{90}, 3*64*64)); d > 1 {
		t.Fatalf("gray JPEG expanded differs by %d", d)
	}
	if !slices.Equal([]int{s.Train.Label(0), s.Train.Label(2), s.Test.Label(0), s.Test.Label(1)}, []int{0, 1, 1, 0}) {
		t.Fatal("labels")
	}
	if d := maxDiff(image0(t, s.Test, 1), flat["val/images/val_1.JPEG"]); d > 3 {
		t.Fatalf("val image differs by %d", d)
	}
	// Resized.
	s, err = Open("tinyimagenet:"+root, Options{Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	if _, h, _ := s.Test.Shape(); h != 32 {
		t.Fatal("resize")
	}

	// Errors.
	writeFile(t, root, "val/val_annotations.txt", []byte("val_0.JPEG\tn09\t0\t1\t60\t60\n"))
	_, err = Open("tinyimagenet:"+dir, Options{})
	wantErr(t, err, filepath.Join(root, "val/val_annotations.txt"), `class "n09"`)
	writeFile(t, root, "val/val_annotations.txt", []byte("../x.JPEG\tn01\n"))
	_, err = Open("tinyimagenet:"+dir, Options{})
	wantErr(t, err, "val_annotations.txt", "line 1", "not a plain name")
	writeFile(t, root, "val/val_annotations.txt", []byte("val_9.JPEG\tn01\n"))
	_, err = Open("tinyimagenet:"+dir, Options{})
	wantErr(t, err, filepath.Join(root, "val/images/val_9.JPEG"), "no such file")
	writeFile(t, root, "val/val_annotations.txt", []byte("val_0.JPEG\tn01\n"))
	writeFile(t, root, "train/n01/images/n01_1.JPEG", []byte("\xff\xd8\xff garbage"))
	_, err = Open("tinyimagenet:"+dir, Options{})
	wantErr(t, err, filepath.Join(root, "train/n01/images/n01_1.JPEG"), "decode")
	writeFile(t, root, "wnids.txt", []byte("n01\nn02\nn03\n"))
	_, err = Open("tinyimagenet:"+dir, Options{})
	wantErr(t, err, filepath.Join(root, "train/n03/images"), "missing")
}

func TestCelebA(t *testing.T) {
	dir := t.TempDir()
	// 6 wide, 8 high: the central 6x6 square is rows 1..6.
	mk := func(v uint8) (*image.NRGBA, []byte) {
		return rgbImage(6, 8, func(x, y int) [3]uint8 {
			if y == 0 || y == 7 {
				return [3]uint8{255, 255, 255}
			}
			return [3]uint8{v, uint8(x * 40), uint8(y * 30)}
		})
	}
	names := []string{"000001.jpg", "000002.jpg", "000003.jpg", "000004.jpg"}
	var wants [][]byte
	for i, n := range names {
		img, want := mk(uint8(50 * i))
		writeFile(t, dir, "img_align_celeba/"+n, pngBytes(t, img)) // PNG content: exact
		wants = append(wants, want)                                // full 6x8
	}
	writeFile(t, dir, "list_attr_celeba.txt", []byte("4\nSmiling Male  Young\n000001.jpg  1 -1  1\n000002.jpg -1 -1 -1\n000003.jpg 1  1 1\n000004.jpg -1 1 -1\n"))
	writeFile(t, dir, "list_eval_partition.txt", []byte("000001.jpg 0\n000002.jpg 2\n000003.jpg 0\n000004.jpg 1\n"))
	s, err := Open("celeba:"+dir, Options{Size: 6})
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Len() != 2 || s.Val.Len() != 1 || s.Test.Len() != 1 || s.Train.NumClasses() != 0 || s.Train.Label(0) != -1 {
		t.Fatalf("lens %d %d %d", s.Train.Len(), s.Val.Len(), s.Test.Len())
	}
	crop := func(full []byte) []byte { // rows 1..6 of each 6x8 plane
		var out []byte
		for c := range 3 {
			out = append(out, full[c*48+6:c*48+42]...)
		}
		return out
	}
	for _, tc := range []struct {
		ds    Dataset
		i     int
		img   int
		attrs []int8
	}{{s.Train, 0, 0, []int8{1, -1, 1}}, {s.Train, 1, 2, []int8{1, 1, 1}}, {s.Test, 0, 1, []int8{-1, -1, -1}}, {s.Val, 0, 3, []int8{-1, 1, -1}}} {
		if got := image0(t, tc.ds, tc.i); !bytes.Equal(got, crop(wants[tc.img])) {
			t.Fatalf("image %s: %v", names[tc.img], got)
		}
		a := tc.ds.(Attributed)
		if !slices.Equal(a.Attributes(tc.i), tc.attrs) || !slices.Equal(a.AttributeNames(), []string{"Smiling", "Male", "Young"}) {
			t.Fatalf("attributes of %s: %v", names[tc.img], a.Attributes(tc.i))
		}
	}
	// Default size 64 with resizing.
	s, err = Open("celeba:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := s.Train.Shape(); c != 3 || h != 64 || w != 64 {
		t.Fatalf("shape %d %d %d", c, h, w)
	}
	// Errors.
	for _, tc := range []struct {
		file, content, bad, want string
	}{
		{"list_attr_celeba.txt", "4\nA B\n000001.jpg 1 0\n", "list_attr_celeba.txt", "attribute B is \"0\""},
		{"list_attr_celeba.txt", "5\nA\n000001.jpg 1\n000002.jpg 1\n000003.jpg 1\n000004.jpg 1\n", "list_attr_celeba.txt", "truncated: 5 images declared, 4 listed"},
		{"list_attr_celeba.txt", "2\nA\n000001.jpg 1\n000009.jpg 1\n", "img_align_celeba/000009.jpg", "no such file"},
		{"list_eval_partition.txt", "000001.jpg 0\n000002.jpg 3\n", "list_eval_partition.txt", "line 2"},
		{"list_eval_partition.txt", "000001.jpg 0\n", "list_eval_partition.txt", "000002.jpg is not listed"},
	} {
		writeFile(t, dir, "list_attr_celeba.txt", []byte("2\nA\n000001.jpg 1\n000002.jpg -1\n"))
		writeFile(t, dir, "list_eval_partition.txt", []byte("000001.jpg 0\n000002.jpg 0\n000009.jpg 0\n"))
		writeFile(t, dir, tc.file, []byte(tc.content))
		_, err := Open("celeba:"+dir, Options{Size: 6})
		wantErr(t, err, filepath.Join(dir, tc.bad), tc.want)
	}
	_, err = Open("celeba:"+t.TempDir(), Options{})
	wantErr(t, err, "img_align_celeba", "missing")
}

// TestFolderSymlinks reads class folders and images that are symbolic
// links (a layout torchvision's ImageFolder accepts), and a link cycle
// once.
func TestFolderSymlinks(t *testing.T) {
	store, dir := t.TempDir(), t.TempDir()
	img, want := rgbImage(5, 4, func(x, y int) [3]uint8 { return [3]uint8{uint8(x * 40), uint8(y * 30), 7} })
	writeFile(t, store, "cats/a.png", pngBytes(t, img))
	writeFile(t, store, "dogs/b.png", pngBytes(t, img))
	for _, l := range []struct{ target, link string }{
		{filepath.Join(store, "cats"), filepath.Join(dir, "cat")},                   // a linked class folder
		{filepath.Join(store, "dogs", "b.png"), filepath.Join(dir, "dog", "b.png")}, // a linked image
		{dir, filepath.Join(store, "cats", "loop")},                                 // a cycle back up
	} {
		os.MkdirAll(filepath.Dir(l.link), 0o755)
		if err := os.Symlink(l.target, l.link); err != nil {
			t.Skipf("symlinks: %v", err)
		}
	}
	s, err := Open("folder:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Classes, []string{"cat", "dog"}) || s.Train.Len() < 2 {
		t.Fatalf("classes %v, %d images", s.Classes, s.Train.Len())
	}
	if got := image0(t, s.Train, 0); !bytes.Equal(got, want) {
		t.Fatalf("linked image = %v, want %v", got, want)
	}
}
