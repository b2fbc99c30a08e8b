"""What a client's JSON Schema can cost, computed before the schema is compiled.

jsonschema-rs does not memoise: each time validation reaches a ``$ref`` or a branch of
``anyOf``/``oneOf``/``allOf``/``not``/``if``-``then``-``else`` it evaluates it again. A 1.5 KB
chain of two-branch ``anyOf`` refs is 2^26 evaluations on one value, and a chain whose branches
also descend (``{"anyOf": [{"properties": {"a": {"$ref": ...}}}, ...]}``) doubles with every
level of the value instead. So the schema is unfolded here, through its local refs, into the
sub-schemas that can meet one node of a value, level by level (a *state*: sub-schema ->
how many times it is reached). A state's cost is the number of sub-schema evaluations on one
node; the largest over every reachable state bounds every node of every value. States repeat
for a recursive schema (a tree of ``items: {"$ref": "#"}``), so the walk ends at a fixpoint;
one that keeps producing new states (the work grows with depth) is refused, as is a ref that
recurses without descending into the value (``{"anyOf": [{"$ref": "#"}]}``: no fixpoint, ever).

The same walk counts the ``pattern`` / ``patternProperties`` matches a node can trigger, so
the caller can weigh text length against them. References must be local JSON pointers
(``#``, ``#/$defs/x``): nothing here, or in the compiled validator, fetches a URL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

MAX_EVALUATIONS = 10_000  # sub-schema evaluations on one node of a value
MAX_STATES = 2_000  # distinct states the unfolding may visit
MAX_STEPS = 100_000  # the analysis' own work (sub-schemas summed over states): ~30 ms
MAX_LEVELS = 64  # levels of a value the unfolding follows before calling it unbounded

# keywords whose schemas apply to the same node of the value
_SAME_ONE = ("not", "if", "then", "else")
_SAME_LIST = ("allOf", "anyOf", "oneOf")
_SAME_MAP = ("dependentSchemas", "dependencies")  # dependencies: only its schema values
_DRAFTS = ("draft-04", "draft-06", "draft-07", "2019-09", "2020-12")

Path = str


class SchemaRejected(ValueError):
    """Why a schema is refused, its message naming the field (``schema.$defs.a.$ref: ...``)."""


class Bounds:
    """Per node of a value: sub-schema evaluations, and pattern matches, at most."""

    __slots__ = ("evaluations", "patterns", "regexes")

    def __init__(self, evaluations: int, patterns: int, regexes: list[str]) -> None:
        self.evaluations = evaluations
        self.patterns = patterns
        self.regexes = regexes  # every pattern and patternProperties key, for the caller


class _Node:
    __slots__ = (
        "every_item", "every_prop", "names", "other", "path", "patterns", "prefix", "props",
        "regexes", "rest", "same",
    )  # fmt: skip

    def __init__(self, path: Path) -> None:
        self.path = path
        self.same: list[int] = []  # same value node: applicators and $ref
        self.props: dict[str, int] = {}  # properties
        self.other: list[int] = []  # additionalProperties: keys not in props
        self.patterns: list[int] = []  # patternProperties: any key may match
        self.every_prop: list[int] = []  # unevaluatedProperties (taken as every key)
        self.names: list[int] = []  # propertyNames: the keys themselves
        self.prefix: list[int] = []  # prefixItems, or items as a list (older drafts)
        self.rest: list[int] = []  # items after the prefix, or additionalItems
        self.every_item: list[int] = []  # contains, unevaluatedItems
        self.regexes = 0  # pattern + patternProperties matches on this node


class _Graph:
    """The schema's sub-schemas as nodes, reached from the root through keywords and refs."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.nodes: list[_Node] = []
        self.index: dict[int, int] = {}  # id(schema object) -> node
        self.regexes: list[str] = []
        self._queue: list[dict[str, Any]] = []
        self.add(root, "schema")
        while self._queue:  # a work list, not recursion: refs can chain far
            obj = self._queue.pop()
            self._build(obj, self.nodes[self.index[id(obj)]])

    def add(self, obj: Any, path: Path) -> int:
        found = self.index.get(id(obj))
        if found is not None:
            return found
        if not isinstance(obj, dict | bool):
            raise SchemaRejected(f"{path}: a schema must be an object or a boolean")
        n = self.index[id(obj)] = len(self.nodes)
        self.nodes.append(_Node(path))
        if isinstance(obj, dict):
            self._queue.append(obj)
        return n

    def _build(self, s: dict[str, Any], node: _Node) -> None:
        at = node.path
        if s is not self.root:
            for key in ("$id", "id"):  # an embedded resource changes what "#" means
                if isinstance(s.get(key), str) and (key == "$id" or _draft4(self.root)):
                    raise SchemaRejected(f"{at}.{key}: only the root schema may set {key}")
        for key in ("$dynamicRef", "$recursiveRef"):
            if key in s:
                raise SchemaRejected(f"{at}.{key}: dynamic references are not supported")
        if "$ref" in s:
            node.same.append(self._resolve(s["$ref"], f"{at}.$ref"))
        for key in _SAME_ONE:
            if key in s:
                node.same.append(self.add(s[key], f"{at}.{key}"))
        for key in _SAME_LIST:
            node.same += self._list(s.get(key), f"{at}.{key}")
        for key in _SAME_MAP:
            sub = s.get(key)
            if isinstance(sub, dict):
                for name, v in sub.items():
                    if not isinstance(v, list):  # dependencies' property lists are not schemas
                        node.same.append(self.add(v, f"{at}.{key}.{name}"))
        props = s.get("properties")
        if isinstance(props, dict):
            for name, v in props.items():
                node.props[str(name)] = self.add(v, f"{at}.properties.{name}")
        pats = s.get("patternProperties")
        if isinstance(pats, dict):
            for rx, v in pats.items():
                node.patterns.append(self.add(v, f"{at}.patternProperties.{rx}"))
                self.regexes.append(str(rx))
            node.regexes += len(pats)
        if isinstance(s.get("pattern"), str):
            node.regexes += 1
            self.regexes.append(s["pattern"])
        node.other += self._one(s, "additionalProperties", at)
        node.every_prop += self._one(s, "unevaluatedProperties", at)
        node.names += self._one(s, "propertyNames", at)
        items = s.get("items")
        if isinstance(items, list):
            node.prefix = self._list(items, f"{at}.items")
            node.rest += self._one(s, "additionalItems", at)
        else:
            node.prefix = self._list(s.get("prefixItems"), f"{at}.prefixItems")
            node.rest += self._one(s, "items", at)
        node.every_item += self._one(s, "contains", at) + self._one(s, "unevaluatedItems", at)
        for key in ("$defs", "definitions"):  # unused definitions are checked too (refs)
            defs = s.get(key)
            if isinstance(defs, dict):
                for name, v in defs.items():
                    if isinstance(v, dict | bool):
                        self.add(v, f"{at}.{key}.{name}")

    def _one(self, s: dict[str, Any], key: str, at: Path) -> list[int]:
        return [self.add(s[key], f"{at}.{key}")] if key in s else []

    def _list(self, value: Any, at: Path) -> list[int]:
        if not isinstance(value, list):
            return []  # a wrong shape is the meta-schema check's to report
        return [self.add(v, f"{at}[{i}]") for i, v in enumerate(value)]

    def _resolve(self, ref: Any, at: Path) -> int:
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            raise SchemaRejected(f"{at}: only local references (#/...) are allowed, got {ref!r}")
        target: Any = self.root
        walked = "schema"
        for part in ref[2:].split("/") if ref != "#" else ():
            part = unquote(part).replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise SchemaRejected(f"{at}: {ref!r} does not resolve")
            walked += f".{part}"
            if isinstance(target, dict) and isinstance(target.get("$id"), str):
                raise SchemaRejected(f"{walked}.$id: only the root schema may set $id")
        if not isinstance(target, dict | bool):
            raise SchemaRejected(f"{at}: {ref!r} does not point at a schema")
        return self.add(target, walked)


def _draft4(root: Any) -> bool:
    return isinstance(root, dict) and "draft-04" in str(root.get("$schema", ""))


def _order(g: _Graph) -> list[int]:
    """Nodes with every same-node successor before its predecessors; a cycle is refused."""
    state = [0] * len(g.nodes)  # 0 new, 1 on the path, 2 done
    out: list[int] = []
    for start in range(len(g.nodes)):
        if state[start]:
            continue
        stack: list[tuple[int, int]] = [(start, 0)]
        state[start] = 1
        while stack:
            n, i = stack[-1]
            succ = g.nodes[n].same
            if i < len(succ):
                stack[-1] = (n, i + 1)
                m = succ[i]
                if state[m] == 1:
                    raise SchemaRejected(
                        f"{g.nodes[m].path}: recursion through $ref without descending into "
                        "the value (it never ends)"
                    )
                if state[m] == 0:
                    state[m] = 1
                    stack.append((m, 0))
            else:
                stack.pop()
                state[n] = 2
                out.append(n)
    return out


def analyse(schema: Any) -> Bounds:
    """Bounds for one node of any value; SchemaRejected past the limits."""
    meta = schema.get("$schema") if isinstance(schema, dict) else None
    if meta is not None and not (
        isinstance(meta, str)
        and meta.startswith(("http://json-schema.org/", "https://json-schema.org/"))
        and any(d in meta for d in _DRAFTS)
    ):  # any other would be fetched, or refused later with a vaguer message
        raise SchemaRejected(f"schema.$schema: not a JSON Schema draft URI: {meta!r}")
    g = _Graph(schema)
    rank = {n: i for i, n in enumerate(_order(g))}  # successors rank lower
    closures: dict[int, dict[int, int]] = {}

    def closure(entry: int) -> dict[int, int]:
        """Sub-schemas evaluated on one value node when ``entry`` is: node -> times."""
        found = closures.get(entry)
        if found is not None:
            return found
        reach: set[int] = set()
        todo = [entry]
        while todo:
            n = todo.pop()
            if n not in reach:
                reach.add(n)
                todo += g.nodes[n].same
        times = dict.fromkeys(reach, 0)
        times[entry] = 1
        for n in sorted(reach, key=rank.__getitem__, reverse=True):  # predecessors first
            for m in g.nodes[n].same:
                times[m] += times[n]
                if times[m] > MAX_EVALUATIONS:
                    raise SchemaRejected(_too_many(g.nodes[entry].path))
        closures[entry] = times
        return times

    best_evals, best_patterns, steps = 0, 0, 0
    seen: set[frozenset[tuple[int, int]]] = set()
    frontier = [{g.index[id(schema)]: 1}]
    for _ in range(MAX_LEVELS):
        following: list[dict[int, int]] = []
        for state in frontier:
            evaluated: dict[int, int] = {}
            for entry, k in state.items():
                for n, t in closure(entry).items():
                    evaluated[n] = evaluated.get(n, 0) + k * t
            steps += len(evaluated) * len(state)
            if steps > MAX_STEPS or len(seen) > MAX_STATES:
                raise SchemaRejected("schema: too many combinations of sub-schemas to check")
            evals = sum(evaluated.values())
            if evals > MAX_EVALUATIONS:
                raise SchemaRejected(_too_many(g.nodes[min(state)].path))
            patterns = sum(g.nodes[n].regexes * t for n, t in evaluated.items())
            best_evals, best_patterns = max(best_evals, evals), max(best_patterns, patterns)
            for child in _children(g, evaluated):
                steps += len(evaluated) + len(child)  # building it read every sub-schema
                key = frozenset(child.items())
                if child and key not in seen:
                    seen.add(key)
                    following.append(child)
        if not following:
            return Bounds(best_evals, best_patterns, g.regexes)
        frontier = following
    raise SchemaRejected(
        "schema: the evaluations per value node keep growing with the value's depth"
    )


def _too_many(path: Path) -> str:
    return (
        f"{path}: more than {MAX_EVALUATIONS} sub-schema evaluations on one value "
        "(anyOf/oneOf/allOf/not/if branches and $refs multiply)"
    )


def _children(g: _Graph, evaluated: dict[int, int]) -> Iterable[dict[int, int]]:
    """The states of a node's children: one per property name the schemas know, one for
    any other key, one for the keys themselves, one per prefix position, one for any
    other item. Conservative where matching is data-dependent (patterns, unevaluated*)."""

    def group(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
        out: dict[int, int] = {}
        for n, t in pairs:
            out[n] = out.get(n, 0) + t
        return out

    nodes = [(g.nodes[n], t) for n, t in evaluated.items()]
    always = [(c, t) for node, t in nodes for c in node.patterns + node.every_prop]
    names = {k for node, _ in nodes for k in node.props}
    for name in sorted(names):
        pairs = list(always)
        for node, t in nodes:
            pairs += [(c, t) for c in ([node.props[name]] if name in node.props else node.other)]
        yield group(pairs)
    yield group(always + [(c, t) for node, t in nodes for c in node.other])
    yield group((c, t) for node, t in nodes for c in node.names)
    every = [(c, t) for node, t in nodes for c in node.every_item]
    width = max((len(node.prefix) for node, _ in nodes), default=0)
    for i in range(width):
        pairs = list(every)
        for node, t in nodes:
            pairs += [(c, t) for c in ([node.prefix[i]] if i < len(node.prefix) else node.rest)]
        yield group(pairs)
    yield group(every + [(c, t) for node, t in nodes for c in node.rest])
