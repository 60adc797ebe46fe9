package browsertest

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

func encode(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCheckNotBlank(t *testing.T) {
	blank := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			blank.Set(x, y, color.White)
		}
	}
	if err := CheckNotBlank(encode(t, blank)); err == nil {
		t.Error("a white image passed as not blank")
	}

	drawn := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			drawn.Set(x, y, color.White)
		}
	}
	drawn.Set(20, 15, color.Black)
	if err := CheckNotBlank(encode(t, drawn)); err != nil {
		t.Errorf("an image with a black dot: %v", err)
	}

	if err := CheckNotBlank([]byte("not a png")); err == nil {
		t.Error("garbage passed as a PNG")
	}
}
