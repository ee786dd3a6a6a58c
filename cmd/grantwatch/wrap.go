package main

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"
)

// wrapWriter passes whole lines to w, each wrapped to width (writeWrapped),
// continued under its own indent plus two spaces: the demo's story and the
// alert texts it shows fit the terminal as its tables do.
type wrapWriter struct {
	w       io.Writer
	width   int
	partial []byte
}

func (ww *wrapWriter) Write(p []byte) (int, error) {
	ww.partial = append(ww.partial, p...)
	var out bytes.Buffer
	for {
		nl := bytes.IndexByte(ww.partial, '\n')
		if nl < 0 {
			break
		}
		ww.wrapLine(&out, string(ww.partial[:nl]))
		ww.partial = ww.partial[nl+1:]
	}
	if _, err := ww.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a last line that has no newline yet.
func (ww *wrapWriter) Flush() error {
	if len(ww.partial) == 0 {
		return nil
	}
	_, err := ww.Write([]byte("\n"))
	return err
}

func (ww *wrapWriter) wrapLine(out *bytes.Buffer, line string) {
	if utf8.RuneCountInString(line) <= ww.width {
		out.WriteString(line + "\n")
		return
	}
	text := strings.TrimLeft(line, " ")
	lead := line[:len(line)-len(text)]
	writeWrapped(out, text, lead, lead+"  ", ww.width)
}
