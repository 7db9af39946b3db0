package sqlite

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/google/uuid"
)

// Images are stored compressed when that makes them smaller (image_encoding, migration
// 0010_image_encoding): an instance row is mostly its image, and a waiting instance is mostly
// its row. DEFLATE with a preset dictionary of the keys and shapes the engine's JSON images
// repeat (engine/FORMAT.md) takes a 1,139-byte ExpenseApproval image to 322 bytes; without
// the dictionary, 556. The image stays opaque to the store: any bytes round-trip.
const (
	imageAsGiven  = 0 // the column holds the image's bytes
	imageDeflated = 1 // DEFLATE (RFC 1951) with imageDictionary
)

// imageDictionary is part of encoding 1 and must never change: a new dictionary is a new
// encoding.
var imageDictionary = []byte(`{"format":"wimp-image/1","id":"","definition":{"name":"","package":"","version":""},` +
	`"hasStarted":true,"clock":"T00:00:00.000000000Z","arguments":{},"variables":{},"root":1,"nextActivityInstance":,` +
	`"activities":[{"n":,"activity":"","type":"Sequence","children":[],"started":true,"index":},` +
	`{"n":,"activity":"","type":"While","parent":,"callback":"Sequence.child","children":[],"started":true},` +
	`{"n":,"activity":"","type":"Pick","parent":,"callback":"Pick.trigger","started":true},"queue":[],` +
	`"bookmarks":[{"name":"","owner":,"callback":"Receive.resumed"}],` +
	`"timers":[{"owner":,"due":"","seq":1,"callback":"Delay.fired"}],"timerSeq":`)

// minDeflate: smaller images are stored as given (a few bytes saved would cost a compression).
const minDeflate = 128

// maxImage bounds what inflating a column may produce: a damaged column must not make a read
// allocate without bound. Far above any image the engine writes.
const maxImage = 256 << 20

// deflaters holds the compressors, at most maxDeflaters: each is about 800 KB of hash tables,
// and a sync.Pool would make one for every caller compressing at once, and again after each GC
// emptied it. A caller waits for a free one; on two cores, four compress as fast as more would.
var deflaters = make(chan *flate.Writer, maxDeflaters)

const maxDeflaters = 4

func init() {
	for range maxDeflaters {
		deflaters <- nil // made when first needed
	}
}

var inflaters = sync.Pool{New: func() any { return flate.NewReaderDict(bytes.NewReader(nil), imageDictionary) }}

// packedImage is an image as the column stores it.
type packedImage struct {
	data     any // []byte, or nil for NULL
	encoding int
}

// packImage encodes img for its column. It runs in the caller's goroutine (Commit), not the
// writer's: compression is CPU the single writer need not spend.
func packImage(img []byte) packedImage {
	switch {
	case img == nil:
		return packedImage{data: nil}
	case len(img) == 0:
		return packedImage{data: emptyBlob}
	case len(img) < minDeflate:
		return packedImage{data: img}
	}
	var buf bytes.Buffer
	buf.Grow(len(img) / 2)
	w := <-deflaters
	if w == nil {
		var err error
		if w, err = flate.NewWriterDict(&buf, 5, imageDictionary); err != nil {
			deflaters <- nil
			return packedImage{data: img} // only for an invalid level
		}
	} else {
		w.Reset(&buf)
	}
	_, err := w.Write(img)
	if err == nil {
		err = w.Close()
	}
	deflaters <- w
	if err != nil || buf.Len() >= len(img) {
		return packedImage{data: img}
	}
	return packedImage{data: buf.Bytes(), encoding: imageDeflated}
}

var errBadImage = errors.New("sqlite: malformed stored image")

// unpackImage decodes a column read back.
func unpackImage(data []byte, encoding int) ([]byte, error) {
	switch encoding {
	case imageAsGiven:
		return data, nil
	case imageDeflated:
		r := inflaters.Get().(io.ReadCloser)
		defer inflaters.Put(r)
		if err := r.(flate.Resetter).Reset(bytes.NewReader(data), imageDictionary); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadImage, err)
		}
		out, err := io.ReadAll(io.LimitReader(r, maxImage+1))
		switch {
		case err != nil:
			return nil, fmt.Errorf("%w: %v", errBadImage, err)
		case len(out) > maxImage:
			return nil, fmt.Errorf("%w: larger than %d bytes", errBadImage, maxImage)
		}
		if out == nil {
			out = []byte{}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown encoding %d", errBadImage, encoding)
}

// imageMemo remembers, for the instances written last, the image each was written with and
// how it was packed, so that a change that leaves the image as it was (a Suspend, an
// Unsuspend) does not compress it again: at one client, compressing was 6–7 % of the server's
// CPU per Suspend or Unsuspend (bench/control, profiled). Entries are compared by content,
// so what packs is always exactly the image given; the memo holds copies, and at most
// imageMemoSize of them.
type imageMemo struct {
	mu sync.Mutex
	m  map[uuid.UUID]memoImage
}

type memoImage struct {
	img    []byte
	packed packedImage
}

const imageMemoSize = 256

// pack is packImage(img), from the memo when instance id was last written with img.
func (c *imageMemo) pack(id uuid.UUID, img []byte) packedImage {
	if len(img) < minDeflate {
		return packImage(img)
	}
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.img, img) {
		return e.packed
	}
	p := packImage(img)
	e = memoImage{img: bytes.Clone(img), packed: p}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[uuid.UUID]memoImage, imageMemoSize)
	}
	if _, ok := c.m[id]; !ok && len(c.m) >= imageMemoSize {
		for k := range c.m { // drop one entry, any
			delete(c.m, k)
			break
		}
	}
	c.m[id] = e
	c.mu.Unlock()
	return p
}
