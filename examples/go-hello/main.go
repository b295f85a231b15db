// Command go-hello prints a greeting and a checksum of its arguments: a small program whose
// binary is built inside an enclave and compared byte for byte across builds.
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Println("hello from go-hello")
	if len(os.Args) > 1 {
		sum := sha256.Sum256([]byte(strings.Join(os.Args[1:], " ")))
		fmt.Printf("sha256 = %x\n", sum)
	}
}
