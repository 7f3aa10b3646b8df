package drift

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/openapi"
	"k8s.io/kube-openapi/pkg/spec3"
)

// schemas builds, once per group-version, the type converter of the
// cluster's OpenAPI v3 document of that group-version (each is
// self-contained: it holds the types it refers to), so that field sets are
// the API server's: keyed lists by their keys, atomic fields whole. A
// group-version the cluster publishes no schema for is typed as the API
// server types a CRD without one: every list atomic. It is safe for
// concurrent use.
type schemas struct {
	client openapi.ClientWithContext

	pathsOnce sync.Once
	paths     map[string]openapi.GroupVersionWithContext
	pathsErr  error

	mu   sync.Mutex
	byGV map[schema.GroupVersion]*gvConverter
}

type gvConverter struct {
	once sync.Once
	tc   managedfields.TypeConverter
	err  error
}

func newSchemas(client openapi.ClientWithContext) *schemas {
	return &schemas{client: client, byGV: map[schema.GroupVersion]*gvConverter{}}
}

// deduced types objects without a schema.
var deduced = managedfields.NewDeducedTypeConverter()

// converter is the type converter of gv.
func (s *schemas) converter(ctx context.Context, gv schema.GroupVersion) (managedfields.TypeConverter, error) {
	s.mu.Lock()
	c := s.byGV[gv]
	if c == nil {
		c = &gvConverter{}
		s.byGV[gv] = c
	}
	s.mu.Unlock()
	c.once.Do(func() { c.tc, c.err = s.build(ctx, gv) })
	return c.tc, c.err
}

func (s *schemas) build(ctx context.Context, gv schema.GroupVersion) (managedfields.TypeConverter, error) {
	s.pathsOnce.Do(func() { s.paths, s.pathsErr = s.client.PathsWithContext(ctx) })
	if s.pathsErr != nil {
		return nil, fmt.Errorf("openapi v3: %w", s.pathsErr)
	}
	path := "apis/" + gv.Group + "/" + gv.Version
	if gv.Group == "" {
		path = "api/" + gv.Version
	}
	doc, ok := s.paths[path]
	if !ok {
		return deduced, nil
	}
	raw, err := doc.SchemaWithContext(ctx, "application/json")
	if err != nil {
		return nil, fmt.Errorf("openapi v3 of %s: %w", gv, err)
	}
	var spec spec3.OpenAPI
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("openapi v3 of %s: %w", gv, err)
	}
	if spec.Components == nil {
		return deduced, nil
	}
	tc, err := managedfields.NewTypeConverter(spec.Components.Schemas, false)
	if err != nil {
		return nil, fmt.Errorf("openapi v3 of %s: %w", gv, err)
	}
	return tc, nil
}
