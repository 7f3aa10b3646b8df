package repo

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSearch(t *testing.T) {
	idx := &Index{Charts: []IndexChart{
		{Name: "mariadb", Versions: []IndexVersion{
			{Version: "2.0.0-rc.1", AppVersion: "11", Description: "MariaDB database"},
			{Version: "1.1.0", AppVersion: "10.6", Description: "MariaDB database", Keywords: []string{"mysql"}},
			{Version: "1.0.0", AppVersion: "10.5", Description: "MariaDB database", Keywords: []string{"mysql"}},
		}},
		{Name: "mysql", Versions: []IndexVersion{{Version: "9.0.0", AppVersion: "8.0", Description: "Fast, reliable database"}}},
		{Name: "nginx", Versions: []IndexVersion{{Version: "1.0.0", Description: "web server"}}},
	}}
	repos := []NamedIndex{{Name: "stable", Index: idx}}
	tests := []struct {
		name string
		o    SearchOptions
		want []string
	}{
		{name: "all", o: SearchOptions{}, want: []string{"stable/mariadb 1.1.0", "stable/mysql 9.0.0", "stable/nginx 1.0.0"}},
		{name: "name first, then keywords", o: SearchOptions{Keyword: "mysql"}, want: []string{"stable/mysql 9.0.0", "stable/mariadb 1.1.0"}},
		{name: "case insensitive description", o: SearchOptions{Keyword: "DATABASE"}, want: []string{"stable/mariadb 1.1.0", "stable/mysql 9.0.0"}},
		{name: "versions", o: SearchOptions{Keyword: "maria", Versions: true}, want: []string{"stable/mariadb 1.1.0", "stable/mariadb 1.0.0"}},
		{name: "devel", o: SearchOptions{Keyword: "maria", Devel: true}, want: []string{"stable/mariadb 2.0.0-rc.1"}},
		{name: "constraint", o: SearchOptions{Keyword: "maria", Version: "~1.0"}, want: []string{"stable/mariadb 1.0.0"}},
		{name: "regexp", o: SearchOptions{Keyword: "^mar", Regexp: true}, want: []string{"stable/mariadb 1.1.0"}},
		{name: "repo prefix", o: SearchOptions{Keyword: "stable/ng"}, want: []string{"stable/nginx 1.0.0"}},
		{name: "none", o: SearchOptions{Keyword: "postgres"}, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Search(repos, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range res {
				got = append(got, r.Name+" "+r.Version)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Search(repos, SearchOptions{Version: "not a constraint"}); err == nil {
		t.Error("invalid constraint accepted")
	}
}
