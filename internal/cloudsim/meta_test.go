package cloudsim

import (
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

type testMeta struct {
	Token string `json:"token"`
	N     int    `json:"n"`
}

func TestMeta(t *testing.T) {
	e, _ := newEngine(t)
	var m testMeta
	if GetMeta(e, "aws", "TestMeta", "a", &m) {
		t.Fatalf("GetMeta of nothing found %+v", m)
	}
	if err := DeleteMeta(e, "aws", "TestMeta", "a"); err != nil {
		t.Fatalf("DeleteMeta of nothing: %v", err)
	}
	for _, want := range []testMeta{{"t1", 1}, {"t2", 2}} { // the second replaces the first
		if err := PutMeta(e, "aws", "TestMeta", "a", want); err != nil {
			t.Fatalf("PutMeta(%+v): %v", want, err)
		}
		var got testMeta
		if !GetMeta(e, "aws", "TestMeta", "a", &got) || got != want {
			t.Fatalf("GetMeta = %+v, want %+v", got, want)
		}
	}

	boom := &cloud.Error{Kind: cloud.KindFatal, Message: "disk full"}
	for _, op := range []string{"DeleteTestMeta", "CreateTestMeta"} {
		e.Inject(Fault{Cloud: "aws", Op: op, Err: boom})
		if err := PutMeta(e, "aws", "TestMeta", "a", testMeta{"t3", 3}); err == nil {
			t.Fatalf("PutMeta with %s failing: no error", op)
		}
	}
	e.Inject(Fault{Cloud: "aws", Op: "DeleteTestMeta", Err: boom})
	if err := DeleteMeta(e, "aws", "TestMeta", "a"); err == nil {
		t.Fatal("DeleteMeta with DeleteTestMeta failing: no error")
	}
}
