package lazyre

import "testing"

func TestNew(t *testing.T) {
	re := New(`^[a-z]+$`)
	if re() != re() {
		t.Fatal("New compiled its expression twice")
	}
	for s, want := range map[string]bool{"abc": true, "ab1": false, "": false} {
		if got := re().MatchString(s); got != want {
			t.Errorf("MatchString(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestNewInvalidPanicsOnFirstUse(t *testing.T) {
	re := New(`(`) // not compiled yet: no panic here
	defer func() {
		if recover() == nil {
			t.Fatal("an invalid expression did not panic on first use")
		}
	}()
	re()
}
