package protocol

import "testing"

func TestParseGUIDAcceptsEveryDotNetForm(t *testing.T) {
	const want = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	for _, in := range []string{
		"3f2504e0-4f89-41d3-9a0c-0305e82c3301",                                               // D
		"3F2504E0-4F89-41D3-9A0C-0305E82C3301",                                               // D, upper case
		"3f2504e04f8941d39a0c0305e82c3301",                                                   // N
		"{3f2504e0-4f89-41d3-9a0c-0305e82c3301}",                                             // B
		"(3f2504e0-4f89-41d3-9a0c-0305e82c3301)",                                             // P
		"{0x3f2504e0,0x4f89,0x41d3,{0x9a,0x0c,0x03,0x05,0xe8,0x2c,0x33,0x01}}",               // X
		"{ 0x3F2504E0, 0x4f89, 0x41d3, { 0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01 } }", // X, spaced
		"  \n\t3f2504e0-4f89-41d3-9a0c-0305e82c3301 \r\n",                                    // surrounding white space
	} {
		got, err := ParseGUID(in)
		if err != nil {
			t.Errorf("ParseGUID(%q): %v", in, err)
			continue
		}
		if got.String() != want {
			t.Errorf("ParseGUID(%q) = %s, want %s", in, got, want)
		}
	}
	// X format with short numbers: 0x1 is 00000001.
	got, err := ParseGUID("{0x1,0x2,0x3,{0x4,0x5,0x6,0x7,0x8,0x9,0xa,0xb}}")
	if err != nil || got.String() != "00000001-0002-0003-0405-060708090a0b" {
		t.Errorf("short X form: %s, %v", got, err)
	}
}

func TestParseGUIDRejectsMalformedValues(t *testing.T) {
	for _, in := range []string{
		"",
		"   ",
		"not-a-guid",
		"3f2504e0-4f89-41d3-9a0c-0305e82c330",    // one digit short
		"3f2504e0-4f89-41d3-9a0c-0305e82c33011",  // one digit long
		"3f2504e0-4f89-41d3-9a0c-0305e82c330g",   // not hex
		"3f2504e04f89-41d3-9a0c-0305e82c3301",    // dash missing
		"{3f2504e0-4f89-41d3-9a0c-0305e82c3301",  // unbalanced brace
		"(3f2504e0-4f89-41d3-9a0c-0305e82c3301}", // mixed brackets
		"{3f2504e0-4f89-41d3-9a0c-0305e82c3301)",
		"3f2504e0 4f89 41d3 9a0c 0305e82c3301",
		"{0x3f2504e0,0x4f89,0x41d3,{0x9a,0x0c,0x03,0x05,0xe8,0x2c,0x33}}",       // 7 bytes
		"{0x3f2504e00,0x4f89,0x41d3,{0x9a,0x0c,0x03,0x05,0xe8,0x2c,0x33,0x01}}", // 9 digits
		"{3f2504e0,0x4f89,0x41d3,{0x9a,0x0c,0x03,0x05,0xe8,0x2c,0x33,0x01}}",    // missing 0x
		"3f2504e0-4f89-41d3-9a0c-0305e82c3301-",
		"+3f2504e0-4f89-41d3-9a0c-0305e82c3301",
	} {
		if g, err := ParseGUID(in); err == nil {
			t.Errorf("ParseGUID(%q) = %s, want an error", in, g)
		}
	}
}

func FuzzParseGUID(f *testing.F) {
	for _, s := range []string{"3f2504e0-4f89-41d3-9a0c-0305e82c3301", "{0x1,0x2,0x3,{0x4,0x5,0x6,0x7,0x8,0x9,0xa,0xb}}", "(x)", "{,{}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseGUID(s)
		if err != nil {
			return
		}
		// Whatever parsed must parse again from its canonical form to the same value.
		again, err := ParseGUID(u.String())
		if err != nil || again != u {
			t.Fatalf("canonical form of %q does not round-trip: %s, %v", s, again, err)
		}
	})
}
