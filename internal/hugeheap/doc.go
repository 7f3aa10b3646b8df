// Package hugeheap asks Linux to back the Go heap of kubectl-chart with
// transparent huge pages; importing it is enough (cmd/kubectl-chart does).
//
// Why: a render is short and touches tens of megabytes of fresh heap, and
// every first touch of a 4 KiB page is a page fault. On the virtual machines
// CI runs on, a fault costs 10–16 µs (measured here: 64 MiB touched page by
// page in 230 ms), so a render of bitnami/wordpress spent about 70 ms of its
// 180 ms of CPU in 5,500 faults. With 2 MiB pages the same 64 MiB takes 32
// faults and 5 ms. Go's runtime does not ask for huge pages itself (it did
// in Go 1.21.0 only), and most distributions leave transparent huge pages to
// programs that ask (/sys/kernel/mm/transparent_hugepage/enabled =
// "madvise").
//
// How: at initialization, before the heaviest packages initialize (Go
// initializes packages in import-path order, dependencies first), it makes
// the runtime map 64 MiB of heap address space with one allocation that is
// never written, marks that range MADV_HUGEPAGE, and collects the
// allocation. The heap then grows into that range with huge pages. Heap
// mapped later, past those 64 MiB, keeps ordinary pages.
//
// Cost: the resident set grows by whole 2 MiB pages (measured on
// prometheus-operator-crds: 61 MiB peak against 59 MiB without), which a
// command that runs for a fraction of a second can afford; the webhook, a
// long-running server, does not import this package.
//
// KUBECTL_CHART_HUGEPAGES=0 turns it off. It does nothing on other systems,
// or where transparent huge pages are disabled ("never").
package hugeheap
