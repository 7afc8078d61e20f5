// Command tfschema reads the resource schemas of terraform-provider-alicloud with Go's own parser (go/ast)
// and prints them as JSON facts: per field its type, required/optional/computed, ForceNew, MinItems/MaxItems,
// ConflictsWith/ExactlyOneOf/AtLeastOneOf/RequiredWith, its validators (name and literal arguments) and the
// file and line that state each; per resource its default timeouts. Nothing is evaluated beyond literals and
// the package's own constants: what it cannot read is printed as source text and marked unreadable, never
// dropped.
//
// Usage: tfschema [-allow-missing] <provider checkout> <terraform resource name>...
//
//	or: git archive <ref> -- alicloud | tfschema [-allow-missing] - <terraform resource name>...
//
// With `-`, the provider's package is read from a tar on stdin (as `git archive` writes it), so a ref of a bare
// git directory is read without writing its two thousand files to disk.
//
// A resource the provider does not register fails the run, unless -allow-missing (then it is left out).
//
// Only the standard library is used, so it builds offline.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

type validator struct {
	Kind       string       `json:"kind"`
	Args       []any        `json:"args,omitempty"`
	Of         []*validator `json:"of,omitempty"` // validation.All / validation.Any
	Unreadable string       `json:"unreadable,omitempty"`
	Line       int          `json:"line"`
}

type field struct {
	Type          string            `json:"type"`
	Line          int               `json:"line"`
	Required      bool              `json:"required,omitempty"`
	Optional      bool              `json:"optional,omitempty"`
	Computed      bool              `json:"computed,omitempty"`
	ForceNew      bool              `json:"forceNew,omitempty"`
	Sensitive     bool              `json:"sensitive,omitempty"`
	Deprecated    bool              `json:"deprecated,omitempty"`
	Removed       bool              `json:"removed,omitempty"`
	MinItems      *int64            `json:"minItems,omitempty"`
	MaxItems      *int64            `json:"maxItems,omitempty"`
	Default       any               `json:"default,omitempty"`
	ConflictsWith []string          `json:"conflictsWith,omitempty"`
	ExactlyOneOf  []string          `json:"exactlyOneOf,omitempty"`
	AtLeastOneOf  []string          `json:"atLeastOneOf,omitempty"`
	RequiredWith  []string          `json:"requiredWith,omitempty"`
	Validate      *validator        `json:"validate,omitempty"`
	ElemType      string            `json:"elemType,omitempty"`     // a list/set/map of scalars
	ElemValidate  *validator        `json:"elemValidate,omitempty"` // their validator
	Fields        map[string]*field `json:"fields,omitempty"`       // a list/set of blocks
	Unreadable    []string          `json:"unreadable,omitempty"`
}

type resource struct {
	Terraform  string            `json:"terraform"`
	Function   string            `json:"function"`
	File       string            `json:"file"`
	Line       int               `json:"line"`
	Timeouts   map[string]any    `json:"timeouts,omitempty"`
	Fields     map[string]*field `json:"fields"`
	Unreadable []string          `json:"unreadable,omitempty"`
}

type pkg struct {
	fset   *token.FileSet
	root   string
	funcs  map[string]*ast.FuncDecl
	consts map[string]ast.Expr
	// Where each top-level function may be declared, from a scan of the source text; a file is parsed when a
	// function it may declare is first asked for (fn), so a run parses the few dozen files its resources need,
	// not the package's two thousand.
	declaredIn map[string][]string
	parsed     map[string]bool
	sources    map[string][]byte // each file's text, by its name
}

func main() {
	args := os.Args[1:]
	allowMissing := len(args) > 0 && args[0] == "-allow-missing"
	if allowMissing {
		args = args[1:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tfschema [-allow-missing] <provider checkout, or - for a tar on stdin> <terraform resource name>...")
		os.Exit(2)
	}
	root := args[0]
	p, err := load(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	registry, err := p.resourcesMap()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := map[string]any{}
	missing := []string{}
	for _, name := range args[1:] {
		fn, ok := registry[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		out[name] = p.resource(name, fn)
	}
	if len(missing) > 0 && !allowMissing {
		fmt.Fprintf(os.Stderr, "not in the provider's ResourcesMap: %s\n", strings.Join(missing, ", "))
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// load indexes the package's files: alicloud/*.go of a checkout, or of a tar on stdin when root is "-".
func load(root string) (*pkg, error) {
	p := &pkg{
		fset: token.NewFileSet(), root: root, funcs: map[string]*ast.FuncDecl{}, consts: map[string]ast.Expr{},
		declaredIn: map[string][]string{}, parsed: map[string]bool{}, sources: map[string][]byte{},
	}
	dir := filepath.Join(root, "alicloud")
	var err error
	if root == "-" {
		p.root, dir = ".", "alicloud"
		err = p.readTar(os.Stdin)
	} else {
		err = p.readDir(dir)
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(p.sources))
	for name := range p.sources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		// gofmt starts every top-level declaration at the line's first column: `func Name(` (not a method's
		// `func (`) and `const`. Every file with a constant is parsed now, since any expression may name one.
		declaresConst := false
		for _, line := range bytes.Split(p.sources[name], []byte("\n")) {
			if bytes.HasPrefix(line, []byte("const")) {
				declaresConst = true
			} else if bytes.HasPrefix(line, []byte("func ")) && !bytes.HasPrefix(line, []byte("func (")) {
				rest := line[len("func "):]
				if end := bytes.IndexAny(rest, "([ "); end > 0 {
					fn := string(rest[:end])
					p.declaredIn[fn] = append(p.declaredIn[fn], name)
				}
			}
		}
		if declaresConst {
			if err := p.parse(name); err != nil {
				return nil, err
			}
		}
	}
	if len(p.declaredIn) == 0 {
		return nil, fmt.Errorf("no Go functions under %s: not a provider checkout", dir)
	}
	return p, nil
}

// inPackage says whether a path is one of the package's own files (not a test, not in a subpackage).
func inPackage(dir, name string) bool {
	return filepath.Dir(name) == dir && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")
}

func (p *pkg) readDir(dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	for _, name := range names {
		if !inPackage(dir, name) {
			continue
		}
		if p.sources[name], err = os.ReadFile(name); err != nil {
			return err
		}
	}
	return nil
}

func (p *pkg) readTar(r io.Reader) error {
	archive := tar.NewReader(r)
	for {
		header, err := archive.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the tar on stdin: %w", err)
		}
		name := filepath.Clean(header.Name)
		if header.Typeflag != tar.TypeReg || !inPackage("alicloud", name) {
			continue
		}
		if p.sources[name], err = io.ReadAll(archive); err != nil {
			return fmt.Errorf("reading %s from the tar on stdin: %w", name, err)
		}
	}
}

// parse reads one file's top-level functions and constants, once.
func (p *pkg) parse(name string) error {
	if p.parsed[name] {
		return nil
	}
	p.parsed[name] = true
	file, err := parser.ParseFile(p.fset, name, p.sources[name], parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	for _, decl := range file.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				p.funcs[d.Name.Name] = d
			}
		case *ast.GenDecl:
			if d.Tok != token.CONST {
				continue
			}
			for _, spec := range d.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						p.consts[n.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	return nil
}

// fn is the package's top-level function of that name, parsing the files that may declare it; nil if none does.
func (p *pkg) fn(name string) *ast.FuncDecl {
	if decl, ok := p.funcs[name]; ok {
		return decl
	}
	for _, file := range p.declaredIn[name] {
		if err := p.parse(file); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	return p.funcs[name]
}

// resourcesMap reads Provider()'s ResourcesMap: terraform resource name -> the function that returns its schema.
func (p *pkg) resourcesMap() (map[string]string, error) {
	fn := p.fn("Provider")
	if fn == nil {
		return nil, fmt.Errorf("no func Provider in the provider's package")
	}
	found := map[string]string{}
	ast.Inspect(fn, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		key, ok := kv.Key.(*ast.Ident)
		if !ok || key.Name != "ResourcesMap" {
			return true
		}
		lit, ok := kv.Value.(*ast.CompositeLit)
		if !ok {
			return true
		}
		for _, elt := range lit.Elts {
			entry := elt.(*ast.KeyValueExpr)
			name, ok := p.str(entry.Key)
			call, isCall := entry.Value.(*ast.CallExpr)
			if !ok || !isCall {
				continue
			}
			if id, ok := call.Fun.(*ast.Ident); ok {
				found[name] = id.Name
			}
		}
		return false
	})
	if len(found) == 0 {
		return nil, fmt.Errorf("no ResourcesMap in func Provider")
	}
	return found, nil
}

func (p *pkg) line(n ast.Node) int { return p.fset.Position(n.Pos()).Line }

func (p *pkg) file(n ast.Node) string {
	rel, err := filepath.Rel(p.root, p.fset.Position(n.Pos()).Filename)
	if err != nil {
		return p.fset.Position(n.Pos()).Filename
	}
	return filepath.ToSlash(rel)
}

func (p *pkg) text(n ast.Node) string {
	var buf bytes.Buffer
	if err := printer.Fprint(&buf, p.fset, n); err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(buf.String()), " ")
}

// returned finds the composite literal a function returns (`return &schema.Resource{...}`, `return map...{}`).
func (p *pkg) returned(name string) *ast.CompositeLit {
	fn := p.fn(name)
	if fn == nil || fn.Body == nil {
		return nil
	}
	for _, stmt := range fn.Body.List {
		ret, ok := stmt.(*ast.ReturnStmt)
		if !ok || len(ret.Results) != 1 {
			continue
		}
		if lit := composite(ret.Results[0]); lit != nil {
			return lit
		}
	}
	return nil
}

func composite(e ast.Expr) *ast.CompositeLit {
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = u.X
	}
	lit, _ := e.(*ast.CompositeLit)
	return lit
}

// literal resolves an expression to a composite literal: the literal itself, or what a local function returns.
func (p *pkg) literal(e ast.Expr) *ast.CompositeLit {
	if lit := composite(e); lit != nil {
		return lit
	}
	if call, ok := e.(*ast.CallExpr); ok && len(call.Args) == 0 {
		if id, ok := call.Fun.(*ast.Ident); ok {
			return p.returned(id.Name)
		}
	}
	return nil
}

func keyed(lit *ast.CompositeLit) map[string]ast.Expr {
	found := map[string]ast.Expr{}
	for _, elt := range lit.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok {
				found[id.Name] = kv.Value
			}
		}
	}
	return found
}

func (p *pkg) resource(name, fn string) *resource {
	r := &resource{Terraform: name, Function: fn, Fields: map[string]*field{}}
	decl := p.fn(fn)
	r.File, r.Line = p.file(decl), p.line(decl)
	lit := p.returned(fn)
	if lit == nil {
		r.Unreadable = append(r.Unreadable, fmt.Sprintf("%s does not return a *schema.Resource literal", fn))
		return r
	}
	parts := keyed(lit)
	if t, ok := parts["Timeouts"]; ok {
		r.Timeouts = p.timeouts(t)
	}
	s, ok := parts["Schema"]
	if !ok {
		r.Unreadable = append(r.Unreadable, "no Schema in the resource literal")
		return r
	}
	r.Fields, r.Unreadable = p.schemaMap(s, r.Unreadable)
	return r
}

func (p *pkg) timeouts(e ast.Expr) map[string]any {
	found := map[string]any{}
	lit := composite(e)
	if lit == nil {
		found["unreadable"] = p.text(e)
		return found
	}
	for op, value := range keyed(lit) {
		entry := map[string]any{"line": p.line(value)}
		call, ok := value.(*ast.CallExpr)
		if ok && len(call.Args) == 1 {
			if secs, ok := p.duration(call.Args[0]); ok {
				entry["seconds"] = secs
			}
		}
		if _, ok := entry["seconds"]; !ok {
			entry["unreadable"] = p.text(value)
		}
		found[strings.ToLower(op)] = entry
	}
	return found
}

// duration reads `5 * time.Minute`, `time.Duration(n) * time.Second` style products of literals and time units.
func (p *pkg) duration(e ast.Expr) (int64, bool) {
	switch x := e.(type) {
	case *ast.BinaryExpr:
		if x.Op != token.MUL {
			return 0, false
		}
		a, ok1 := p.duration(x.X)
		b, ok2 := p.duration(x.Y)
		return a * b, ok1 && ok2
	case *ast.SelectorExpr:
		if pk, ok := x.X.(*ast.Ident); ok && pk.Name == "time" {
			units := map[string]int64{"Second": 1, "Minute": 60, "Hour": 3600}
			u, ok := units[x.Sel.Name]
			return u, ok
		}
	case *ast.ParenExpr:
		return p.duration(x.X)
	case *ast.CallExpr:
		if len(x.Args) == 1 {
			return p.duration(x.Args[0])
		}
	default:
		if v, ok := p.value(e); ok {
			if n, ok := v.(int64); ok {
				return n, true
			}
		}
	}
	return 0, false
}

func (p *pkg) schemaMap(e ast.Expr, unreadable []string) (map[string]*field, []string) {
	fields := map[string]*field{}
	lit := p.literal(e)
	if lit == nil {
		return fields, append(unreadable, "schema map: "+p.text(e))
	}
	for _, elt := range lit.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			unreadable = append(unreadable, "schema entry: "+p.text(elt))
			continue
		}
		name, ok := p.str(kv.Key)
		if !ok {
			unreadable = append(unreadable, "schema key: "+p.text(kv.Key))
			continue
		}
		fields[name] = p.field(kv.Value, p.line(kv.Key))
	}
	return fields, unreadable
}

func (p *pkg) field(e ast.Expr, line int) *field {
	f := &field{Line: line}
	lit := p.literal(e)
	if lit == nil {
		f.Unreadable = append(f.Unreadable, "schema: "+p.text(e))
		return f
	}
	for key, value := range keyed(lit) {
		switch key {
		case "Type":
			f.Type = typeName(value)
		case "Required", "Optional", "Computed", "ForceNew", "Sensitive":
			b := isTrue(value)
			switch key {
			case "Required":
				f.Required = b
			case "Optional":
				f.Optional = b
			case "Computed":
				f.Computed = b
			case "ForceNew":
				f.ForceNew = b
			case "Sensitive":
				f.Sensitive = b
			}
		case "Deprecated":
			f.Deprecated = true
		case "Removed":
			f.Removed = true
		case "MinItems", "MaxItems":
			v, ok := p.value(value)
			n, isInt := v.(int64)
			if !ok || !isInt {
				f.Unreadable = append(f.Unreadable, key+": "+p.text(value))
				continue
			}
			if key == "MinItems" {
				f.MinItems = &n
			} else {
				f.MaxItems = &n
			}
		case "Default":
			if v, ok := p.value(value); ok {
				f.Default = v
			} else {
				f.Unreadable = append(f.Unreadable, "Default: "+p.text(value))
			}
		case "ConflictsWith", "ExactlyOneOf", "AtLeastOneOf", "RequiredWith":
			v, ok := p.value(value)
			list, isList := v.([]any)
			if !ok || !isList {
				f.Unreadable = append(f.Unreadable, key+": "+p.text(value))
				continue
			}
			names := []string{}
			for _, item := range list {
				names = append(names, item.(string))
			}
			switch key {
			case "ConflictsWith":
				f.ConflictsWith = names
			case "ExactlyOneOf":
				f.ExactlyOneOf = names
			case "AtLeastOneOf":
				f.AtLeastOneOf = names
			case "RequiredWith":
				f.RequiredWith = names
			}
		case "ValidateFunc", "ValidateDiagFunc":
			f.Validate = p.validator(value)
		case "Elem":
			if t := typeName(value); t != "" && t != "Resource" && t != "Schema" {
				f.ElemType = t // `Elem: schema.TypeString`, which the SDK reads as a string element too
				continue
			}
			elem := composite(value)
			if elem == nil {
				elem = p.literal(value)
			}
			if elem == nil {
				f.Unreadable = append(f.Unreadable, "Elem: "+p.text(value))
				continue
			}
			parts := keyed(elem)
			if s, ok := parts["Schema"]; ok && typeName(elem.Type) == "Resource" {
				f.Fields, f.Unreadable = p.schemaMap(s, f.Unreadable)
				continue
			}
			if t, ok := parts["Type"]; ok {
				f.ElemType = typeName(t)
			}
			for _, k := range []string{"ValidateFunc", "ValidateDiagFunc"} {
				if v, ok := parts[k]; ok {
					f.ElemValidate = p.validator(v)
				}
			}
		}
	}
	sort.Strings(f.Unreadable)
	return f
}

// typeName: schema.TypeString -> "string", &schema.Resource -> "Resource".
func typeName(e ast.Expr) string {
	if u, ok := e.(*ast.StarExpr); ok {
		e = u.X
	}
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if strings.HasPrefix(sel.Sel.Name, "Type") {
		return strings.ToLower(strings.TrimPrefix(sel.Sel.Name, "Type"))
	}
	return sel.Sel.Name
}

func isTrue(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "true"
}

// validator reads IntBetween(0, 3), validation.StringInSlice([]string{...}, false), validation.All(...),
// validation.ToDiagFunc(...), or a bare function value (validation.IsCIDR, a provider-local func).
func (p *pkg) validator(e ast.Expr) *validator {
	v := &validator{Line: p.line(e)}
	switch x := e.(type) {
	case *ast.CallExpr:
		v.Kind = calleeName(x.Fun)
		if v.Kind == "ToDiagFunc" && len(x.Args) == 1 {
			return p.validator(x.Args[0])
		}
		if v.Kind == "All" || v.Kind == "Any" {
			for _, arg := range x.Args {
				v.Of = append(v.Of, p.validator(arg))
			}
			return v
		}
		for _, arg := range x.Args {
			value, ok := p.value(arg)
			if !ok {
				v.Unreadable = p.text(e)
				v.Args = nil
				return v
			}
			v.Args = append(v.Args, value)
		}
	case *ast.Ident, *ast.SelectorExpr:
		v.Kind = calleeName(x)
	case *ast.FuncLit:
		v.Kind = "func literal"
		v.Unreadable = p.text(e)
	default:
		v.Kind = "?"
		v.Unreadable = p.text(e)
	}
	if v.Kind == "" {
		v.Kind = "?"
		v.Unreadable = p.text(e)
	}
	return v
}

func calleeName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return x.Sel.Name
	}
	return ""
}

func (p *pkg) str(e ast.Expr) (string, bool) {
	v, ok := p.value(e)
	s, isStr := v.(string)
	return s, ok && isStr
}

// value evaluates literals: numbers, strings (and their concatenation), true/false, the package's own
// constants, string(...) conversions, []T{...} slices and regexp.MustCompile(`...`) (as its pattern).
func (p *pkg) value(e ast.Expr) (any, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		switch x.Kind {
		case token.INT:
			n, err := strconv.ParseInt(x.Value, 0, 64)
			return n, err == nil
		case token.FLOAT:
			f, err := strconv.ParseFloat(x.Value, 64)
			return f, err == nil
		case token.STRING:
			s, err := strconv.Unquote(x.Value)
			return s, err == nil
		}
	case *ast.Ident:
		switch x.Name {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		if c, ok := p.consts[x.Name]; ok && c != e {
			return p.value(c)
		}
	case *ast.UnaryExpr:
		if x.Op == token.SUB {
			v, ok := p.value(x.X)
			switch n := v.(type) {
			case int64:
				return -n, ok
			case float64:
				return -n, ok
			}
		}
	case *ast.ParenExpr:
		return p.value(x.X)
	case *ast.BinaryExpr:
		a, ok1 := p.value(x.X)
		b, ok2 := p.value(x.Y)
		if !ok1 || !ok2 {
			return nil, false
		}
		as, aStr := a.(string)
		bs, bStr := b.(string)
		if x.Op == token.ADD && aStr && bStr {
			return as + bs, true
		}
		an, aInt := a.(int64)
		bn, bInt := b.(int64)
		if aInt && bInt {
			switch x.Op {
			case token.ADD:
				return an + bn, true
			case token.SUB:
				return an - bn, true
			case token.MUL:
				return an * bn, true
			}
		}
	case *ast.CallExpr:
		name := calleeName(x.Fun)
		if len(x.Args) == 1 && (name == "string" || name == "int" || name == "MustCompile") {
			return p.value(x.Args[0])
		}
	case *ast.CompositeLit:
		if _, ok := x.Type.(*ast.ArrayType); !ok {
			return nil, false
		}
		items := []any{}
		for _, elt := range x.Elts {
			v, ok := p.value(elt)
			if !ok {
				return nil, false
			}
			items = append(items, v)
		}
		return items, true
	}
	return nil, false
}
