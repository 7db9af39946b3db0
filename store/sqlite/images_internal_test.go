package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// An image as the engine writes it (engine/FORMAT.md): an ExpenseApproval waiting for review.
const sampleImage = `{"format":"wimp-image/1","id":"36683000-ef1f-42c2-b8b3-8cda96928459","definition":{"name":"ExpenseApproval","package":"wimp.samples","version":"1.0.0.0"},"hasStarted":true,"clock":"2026-12-03T17:48:11.987332347Z","arguments":{"amount":10,"reviewTimeout":"240h","submitter":"bench"},"variables":{"approvals":0,"escalations":0,"required":1,"review":null,"status":"Pending"},"root":1,"nextActivityInstance":7,"activities":[{"n":1,"activity":"main","type":"Sequence","children":[4],"started":true,"index":2},{"n":4,"activity":"reviewLoop","type":"While","parent":1,"callback":"Sequence.child","children":[5],"started":true,"index":1},{"n":5,"activity":"awaitReview","type":"Pick","parent":4,"callback":"While.body","children":[6,7],"started":true},{"n":6,"activity":"receiveReview","type":"Receive","parent":5,"callback":"Pick.trigger","started":true},{"n":7,"activity":"reviewDelay","type":"Delay","parent":5,"callback":"Pick.trigger","started":true}],"queue":[],"bookmarks":[{"name":"Review","owner":6,"callback":"Receive.resumed"}],"timers":[{"owner":7,"due":"2026-12-13T17:48:11.987332347Z","seq":1,"callback":"Delay.fired"}],"timerSeq":1}`

func TestImageRoundTrip(t *testing.T) {
	random := make([]byte, 4096)
	rand.Read(random)
	for name, c := range map[string]struct {
		img      []byte
		encoding int
	}{
		"nil":            {nil, imageAsGiven},
		"empty":          {[]byte{}, imageAsGiven},
		"small":          {[]byte(`{"format":"x"}`), imageAsGiven},
		"engine image":   {[]byte(sampleImage), imageDeflated},
		"large":          {[]byte(strings.Repeat(sampleImage, 200)), imageDeflated},
		"incompressible": {random, imageAsGiven},
	} {
		p := packImage(c.img)
		if p.encoding != c.encoding {
			t.Errorf("%s: encoding %d; want %d", name, p.encoding, c.encoding)
		}
		data, _ := p.data.([]byte)
		if (p.data == nil) != (c.img == nil) {
			t.Errorf("%s: stored as %#v", name, p.data)
		}
		got, err := unpackImage(data, p.encoding)
		if err != nil || !bytes.Equal(got, c.img) || (c.img != nil && got == nil) {
			t.Errorf("%s: read back %q, %v", name, got, err)
		}
	}
	if p := packImage([]byte(sampleImage)); len(p.data.([]byte)) > 400 {
		t.Errorf("the engine image deflated to %d bytes of %d; the dictionary should bring it under 400", len(p.data.([]byte)), len(sampleImage))
	}
}

func TestUnpackImageRefusesDamage(t *testing.T) {
	good := packImage([]byte(sampleImage)).data.([]byte)
	for name, c := range map[string]struct {
		data     []byte
		encoding int
	}{
		"unknown encoding": {good, 2},
		"truncated":        {good[:len(good)/2], imageDeflated},
		"not deflate":      {[]byte{0xff, 0xff, 0xff, 0xff}, imageDeflated},
	} {
		if img, err := unpackImage(c.data, c.encoding); !errors.Is(err, errBadImage) {
			t.Errorf("%s: %q, %v; want errBadImage", name, img, err)
		}
	}
}

// FuzzUnpackImage: no stored column panics a read or inflates past maxImage; what packs
// unpacks to itself.
func FuzzUnpackImage(f *testing.F) {
	f.Add(packImage([]byte(sampleImage)).data.([]byte), imageDeflated)
	f.Add([]byte(sampleImage), imageAsGiven)
	f.Fuzz(func(t *testing.T, data []byte, encoding int) {
		if img, err := unpackImage(data, encoding); err == nil && len(img) > maxImage {
			t.Fatalf("inflated to %d bytes", len(img))
		}
		p := packImage(data)
		packed, _ := p.data.([]byte)
		if got, err := unpackImage(packed, p.encoding); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("packed %q as %d, %x: read back %q, %v", data, p.encoding, packed, got, err)
		}
	})
}

// The store writes an engine image deflated, reads it back as it was given, and still reads a
// row written as given (image_encoding 0, as every row before 0010_image_encoding).
func TestImagesStoredDeflated(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "images.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := &store.Instance{ID: uuid.New(), State: workflow.Active, Image: []byte(sampleImage)}
	if err := s.Commit(ctx, store.Change{Op: store.Insert, Instance: in}); err != nil {
		t.Fatal(err)
	}
	var n, encoding int
	if err := s.rdb.QueryRow(`SELECT length(image), image_encoding FROM instances WHERE id = ?`, in.ID.String()).Scan(&n, &encoding); err != nil {
		t.Fatal(err)
	}
	if encoding != 1 || n >= len(sampleImage)/2 {
		t.Fatalf("stored image: %d bytes, encoding %d; want encoding 1 and under half of %d", n, encoding, len(sampleImage))
	}
	got, err := s.Get(ctx, in.ID)
	if err != nil || string(got.Image) != sampleImage {
		t.Fatalf("Get: %q, %v", got.Image, err)
	}
	db, err := sql.Open("sqlite", dsn(path, 0, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old := uuid.New()
	if _, err := db.Exec(`INSERT INTO instances (id, definition_name, definition_version, state, image, version, created, updated)
		VALUES (?, 'Expense', '1.0', 'Active', ?, 1, 1, 1)`, old.String(), []byte(sampleImage)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, old); err != nil || string(got.Image) != sampleImage {
		t.Fatalf("Get of a row written as given: %q, %v", got.Image, err)
	}
}

// The memo gives back the packing of an image written again unchanged, and packs anew an image
// that changed — also one changed in place in the caller's slice — and keeps a bounded number.
func TestImageMemo(t *testing.T) {
	var m imageMemo
	id := uuid.New()
	img := []byte(sampleImage)
	first := m.pack(id, img)
	again := m.pack(id, bytes.Clone(img))
	if &first.data.([]byte)[0] != &again.data.([]byte)[0] {
		t.Error("an unchanged image was packed again")
	}
	img[len(img)-2] = '2' // "timerSeq":2, in the caller's own slice
	changed := m.pack(id, img)
	if got, err := unpackImage(changed.data.([]byte), changed.encoding); err != nil || !bytes.Equal(got, img) {
		t.Fatalf("after a change in place: read back %q, %v; want %q", got, err, img)
	}
	for range 3 * imageMemoSize {
		m.pack(uuid.New(), img)
	}
	if n := len(m.m); n > imageMemoSize {
		t.Errorf("the memo holds %d images, more than %d", n, imageMemoSize)
	}
}
