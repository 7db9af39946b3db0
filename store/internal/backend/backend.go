// Package backend holds the dialect-independent logic the store backends (store/sqlite,
// store/postgres) share, so that each rule of the store contract is written once.
package backend
