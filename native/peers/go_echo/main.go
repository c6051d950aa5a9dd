// go_echo - the Go echo server: what a Go user would write instead of the
// coroutine echo_server (one goroutine per connection on Go's netpoller).
// It is a baseline, so it stays idiomatic, and speaks the protocol of
// docs/programs.md:
//
//	go_echo [-P PORT] [-a ADDR] [-R]
//
// CRLF lines echoed byte for byte, !quit, !shutdown (loopback peers only
// unless -R), !bench (the coro++ rusage line), !bench json, and the 64 KiB
// line limit (-ERR line too long, then close).
//
// As in the C and Node peers, the echoes of everything one read delivered go
// out in one write: replies collect in a bufio.Writer that is flushed when
// the reader has nothing more buffered.
//
// Built on demand by `coro-bench compare` when a Go toolchain is installed
// (go build -o BUILD/peers/go_echo native/peers/go_echo/main.go).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const lineMaxBytes = 64 * 1024 // longest line, CRLF included

var (
	errTooLong        = []byte("-ERR line too long\r\n")
	errRemoteShutdown = []byte("-ERR !shutdown is accepted from loopback only\r\n")
	crlf              = []byte("\r\n")
)

type server struct {
	ln                  net.Listener
	allowRemoteShutdown bool
	start               time.Time
	startUsage          syscall.Rusage

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// usage is the rusage since start in the coro_rusage_t field order
// (wall_us first); maxrss is a high-water mark, so it is not a difference.
func (s *server) usage() []int64 {
	var now syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &now)
	us := func(t syscall.Timeval) int64 { return int64(t.Sec)*1_000_000 + int64(t.Usec) }
	b := &s.startUsage
	return []int64{
		time.Since(s.start).Microseconds(),
		us(now.Utime) - us(b.Utime),
		us(now.Stime) - us(b.Stime),
		int64(now.Maxrss),
		int64(now.Ixrss - b.Ixrss),
		int64(now.Idrss - b.Idrss),
		int64(now.Isrss - b.Isrss),
		int64(now.Minflt - b.Minflt),
		int64(now.Majflt - b.Majflt),
		int64(now.Nswap - b.Nswap),
		int64(now.Inblock - b.Inblock),
		int64(now.Oublock - b.Oublock),
		int64(now.Msgsnd - b.Msgsnd),
		int64(now.Msgrcv - b.Msgrcv),
		int64(now.Nsignals - b.Nsignals),
		int64(now.Nvcsw - b.Nvcsw),
		int64(now.Nivcsw - b.Nivcsw),
	}
}

var benchKeys = []string{"wall_us", "utime_us", "stime_us", "maxrss_kib", "ixrss", "idrss", "isrss",
	"minflt", "majflt", "nswap", "inblock", "oublock", "msgsnd", "msgrcv", "nsignals", "nvcsw", "nivcsw"}

// secUsec prints microseconds as coro++ prints a timeval ("%ld %06ld").
func secUsec(us int64) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	return fmt.Sprintf("%s%d %06d", sign, us/1_000_000, us%1_000_000)
}

func (s *server) bench() []byte {
	u := s.usage()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s|%s|%s|", secUsec(u[0]), secUsec(u[1]), secUsec(u[2]))
	for i := 3; i < len(u); i++ {
		if i > 3 {
			b.WriteByte(' ')
		}
		key := benchKeys[i]
		if key == "maxrss_kib" {
			key = "maxrss"
		}
		fmt.Fprintf(&b, "%s:%d", key, u[i])
	}
	b.Write(crlf)
	return b.Bytes()
}

func (s *server) benchJSON() []byte {
	u := s.usage()
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range benchKeys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%d", k, u[i])
	}
	// No read_block/write_block: Go's runtime keeps no count of blocked
	// reads or writes, and a constant 0 would read as a measurement.
	b.WriteByte('}')
	b.Write(crlf)
	return b.Bytes()
}

// shutdown stops accepting, drops every other session, and exits once the
// requester's replies are handed to the kernel.
func (s *server) shutdown(requester net.Conn, w *bufio.Writer) {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		if c != requester {
			_ = c.Close()
		}
	}
	s.mu.Unlock()
	_ = w.Flush()
	_ = requester.Close()
	os.Exit(0)
}

func isLoopback(c net.Conn) bool {
	a, ok := c.RemoteAddr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// endSession closes a session that ends on our side (!quit, an over-long
// line) gracefully, as the C peer does: flush, half-close, and discard input
// until the peer's FIN (bounded), so that unread input does not turn the
// close into a reset that destroys the replies in flight.
func endSession(c net.Conn, w *bufio.Writer) {
	_ = w.Flush()
	if tc, ok := c.(*net.TCPConn); ok && tc.CloseWrite() == nil {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, c)
	}
}

// serve echoes one session until the peer closes, !quit, or an error.
func (s *server) serve(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	r := bufio.NewReaderSize(c, lineMaxBytes)
	w := bufio.NewWriterSize(c, lineMaxBytes)
	var pending []byte // an unfinished line (a lone LF inside it, or split reads)
	for {
		chunk, err := r.ReadSlice('\n')
		line := chunk
		if len(pending) > 0 {
			pending = append(pending, chunk...)
			line = pending
		}
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > lineMaxBytes {
			_, _ = w.Write(errTooLong)
			endSession(c, w)
			return
		}
		if err != nil {
			_ = w.Flush()
			return
		}
		if !bytes.HasSuffix(line, crlf) {
			// A LF without its CR is part of the line: keep reading.
			if len(pending) == 0 {
				pending = append(pending, chunk...)
			}
			continue
		}
		switch string(line) {
		case "!quit\r\n":
			endSession(c, w)
			return
		case "!bench\r\n":
			_, _ = w.Write(s.bench())
		case "!bench json\r\n":
			_, _ = w.Write(s.benchJSON())
		case "!shutdown\r\n":
			if s.allowRemoteShutdown || isLoopback(c) {
				s.shutdown(c, w)
			}
			_, _ = w.Write(errRemoteShutdown)
		default:
			_, _ = w.Write(line)
		}
		pending = pending[:0]
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

func main() {
	port := flag.Int("P", 9001, "TCP port, 0 for an ephemeral one")
	addr := flag.String("a", "127.0.0.1", "address to bind")
	remote := flag.Bool("R", false, "accept !shutdown from any peer, not only loopback")
	flag.Parse()
	if flag.NArg() > 0 || *port < 0 || *port > 65535 {
		flag.Usage()
		os.Exit(2)
	}
	s := &server{allowRemoteShutdown: *remote, start: time.Now(), conns: map[net.Conn]struct{}{}}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &s.startUsage)
	ln, err := net.Listen("tcp", net.JoinHostPort(*addr, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "go_echo: cannot listen on %s:%d: %v\n", *addr, *port, err)
		os.Exit(1)
	}
	s.ln = ln
	fmt.Printf("echo_server starting on port %d\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				// !shutdown closed the listener; its session exits the
				// process once its replies are out.
				select {}
			}
			// EMFILE and friends: back off a little and keep serving.
			fmt.Fprintf(os.Stderr, "go_echo: %v\n", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go s.serve(c)
	}
}
