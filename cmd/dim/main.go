// Command dim trains Deep InfoMax encoders, embeds images with them and
// evaluates their representations.
//
//	dim train --data fashion-mnist --out runs/fm --epochs 1 --mi-units 512 --eval
//	dim embed --model runs/fm --data fashion-mnist --out runs/fm/features
//	dim eval  --model runs/fm --data fashion-mnist
//	dim bench
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/deepinfomax/deepinfomax/train"
	"github.com/spf13/cobra"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "dim: ") { // the dim package's own errors say so already
			msg = "dim: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		if errors.Is(err, train.ErrInterrupted) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "dim",
		Short: "Deep InfoMax: learn image representations by maximising mutual information",
		Long: `dim trains Deep InfoMax encoders (Hjelm et al., ICLR 2019) on image data sets,
embeds images with a trained encoder, and evaluates the representation with
classifiers on frozen features, as the paper does.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(trainCmd(), embedCmd(), evalCmd(), neighborsCmd(), compareCmd(), benchCmd(), reportCmd())
	return root
}
