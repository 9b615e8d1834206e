package web

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestScratch(t *testing.T) {
	dir := os.Getenv("SCRATCH")
	if dir == "" {
		t.Skip()
	}
	e := StartForTest(t)
	var p Pack
	if err := p.AddFS(os.DirFS("/work/wt/godot4/godot"), ".", "", func(rel string, d os.DirEntry) bool {
		return rel == "web" || rel == "demo" || rel == "tools" || rel == "enginetest"
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.AddFS(os.DirFS(dir), ".", "scratch", nil); err != nil {
		t.Fatal(err)
	}
	var plan []Step
	for _, s := range strings.Split(os.Getenv("STEPS"), ",") {
		kind := StepTree
		if k, path, ok := strings.Cut(s, ":"); ok {
			kind, s = StepKind(k), path
		}
		plan = append(plan, Step{Script: "res://" + s, Kind: kind, TimeoutSeconds: 60})
	}
	p.AddRunner(plan, nil)
	p.AddClassCache()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	res, err := e.RunPack(ctx, &p, PageConfig{}, func(l Line) { t.Log(l.Text) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v ok=%v", res.Duration, res.OK())
}
