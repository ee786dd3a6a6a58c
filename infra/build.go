package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// buildFunction compiles functions/<name> for Lambda's provided.al2023 on
// arm64 into dir/bootstrap. Building here, in the CDK app, keeps `cdk synth`
// and `cdk deploy` one command and needs no Docker.
func buildFunction(root, name, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w",
		"-o", filepath.Join(dir, "bootstrap"), "./functions/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build functions/%s: %w\n%s", name, err, out)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
