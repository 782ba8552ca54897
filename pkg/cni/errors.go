package cni

import "syscall"

var errExists = syscall.EEXIST
