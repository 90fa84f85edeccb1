package nodecheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// maxKernelLogBytes bounds how much of a kernel log file is read.
const maxKernelLogBytes = 16 << 20

// ReadKernelLog returns the kernel log messages at path: /dev/kmsg (each
// record "prio,seq,usec,flags;message", read without blocking until the
// ring buffer is drained) or a text file such as /var/log/kern.log (its
// last 16 MiB).
func ReadKernelLog(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&os.ModeCharDevice != 0 {
		return readKmsg(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > maxKernelLogBytes {
		if _, err := f.Seek(fi.Size()-maxKernelLogBytes, 0); err != nil {
			return nil, err
		}
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

func readKmsg(path string) ([]string, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer syscall.Close(fd)
	var lines []string
	buf := make([]byte, 8192)
	for {
		n, err := syscall.Read(fd, buf)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return lines, nil
		case errors.Is(err, syscall.EPIPE):
			continue // records overwritten while reading: the next read resumes
		case err != nil:
			return lines, fmt.Errorf("reading %s: %w", path, err)
		case n == 0:
			return lines, nil
		}
		lines = append(lines, KmsgMessage(buf[:n]))
	}
}

// KmsgMessage extracts the message of a /dev/kmsg record.
func KmsgMessage(record []byte) string {
	if i := bytes.IndexByte(record, ';'); i >= 0 {
		record = record[i+1:]
	}
	msg, _, _ := strings.Cut(string(record), "\n") // continuation lines carry key=value metadata
	return msg
}
