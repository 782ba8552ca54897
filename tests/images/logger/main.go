// Command logger is a test image's program: it writes $COUNT numbered
// lines "$PREFIX <n> <padding>" to standard output ($EVERY apart, none by
// default; $SIZE bytes each at least), then exits. It is what a log
// forwarding test ships.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	count, _ := strconv.Atoi(os.Getenv("COUNT"))
	size, _ := strconv.Atoi(os.Getenv("SIZE"))
	every, _ := time.ParseDuration(os.Getenv("EVERY"))
	prefix := os.Getenv("PREFIX")
	w := bufio.NewWriter(os.Stdout)
	for i := range count {
		line := fmt.Sprintf("%s %d ", prefix, i)
		if pad := size - len(line); pad > 0 {
			line += strings.Repeat(".", pad)
		}
		fmt.Fprintln(w, line)
		if every > 0 {
			w.Flush()
			time.Sleep(every)
		}
	}
	w.Flush()
}
