module github.com/wimp-project/wimp/interop/gowsdl/driver

go 1.22

require github.com/hooklift/gowsdl v0.5.0
