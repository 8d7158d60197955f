package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		args    []string
		wantErr string
	}{
		{nil, ""},
		{[]string{"--projects", "0"}, "--projects"},
		{[]string{"--jobs-per-hour", "-1"}, "--jobs-per-hour"},
		{[]string{"--history", "-1h"}, "--history"},
		{[]string{"--token", ""}, "--token"},
		{[]string{"--tick", "0s"}, "--tick"},
		{[]string{"--rate-limit", "-5"}, "--rate-limit"},
		{[]string{"--projects", "many"}, "projects"},
	}
	for _, c := range cases {
		cfg, err := parseFlags(c.args)
		if c.wantErr == "" {
			if err != nil || cfg.listen != "127.0.0.1:8081" || cfg.token != "demo-token" || cfg.workload.Projects != 5 || cfg.workload.RetryReopens {
				t.Errorf("defaults: %+v, %v", cfg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%v: err %v, want one naming %s", c.args, err, c.wantErr)
		}
	}
	if cfg, err := parseFlags([]string{"--retry-reopens"}); err != nil || !cfg.workload.RetryReopens {
		t.Errorf("--retry-reopens: %v, RetryReopens %v", err, cfg.workload.RetryReopens)
	}
}

func TestRunServesAndStops(t *testing.T) {
	cfg, err := parseFlags([]string{"--listen-address", "127.0.0.1:0", "--history", "30m", "--token", "t0k", "--rate-limit", "100"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), pw) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base := regexp.MustCompile(`http://[0-9.:]+`).FindString(line)
	if base == "" || !strings.Contains(line, `"t0k"`) {
		t.Fatalf("banner %q lacks the URL or token", line)
	}
	req, _ := http.NewRequest("GET", base+"/api/v4/projects/group%2Fproject-1/jobs", nil)
	req.Header.Set("PRIVATE-TOKEN", "t0k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "100" {
		t.Errorf("got %d %v", resp.StatusCode, resp.Header)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
}
