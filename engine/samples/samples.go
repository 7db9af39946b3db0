// Package samples holds the sample workflow definitions embedded in the binary. The engine's
// Registry loads them; engine/FORMAT.md walks through ExpenseApproval.
package samples

import "embed"

// FS holds every sample definition (*.xml at its root).
//
//go:embed *.xml
var FS embed.FS
