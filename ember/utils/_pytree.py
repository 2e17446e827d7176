"""A minimal torch.utils._pytree: flatten nested tuples, lists, dicts and namedtuples to leaves and back.

torch.func's transforms (vmap's in_dims/out_dims, grad's argnums over dicts of parameters) walk
their arguments with it.  ``None`` is a leaf, as in torch; a TreeSpec prints as torch's does, so
the error messages that show one read the same.
"""
from collections import OrderedDict, namedtuple

__all__ = ["TreeSpec", "LeafSpec", "tree_flatten", "tree_unflatten", "tree_leaves", "tree_map",
           "tree_structure"]


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _node_type(x):
    # namedtuple before tuple: it is one, but rebuilds through its own class
    if _is_namedtuple(x):
        return namedtuple
    t = type(x)
    if t in (tuple, list, dict, OrderedDict):
        return t
    return None


class TreeSpec:
    """The structure of a pytree: a node type, its context (dict keys, namedtuple class) and children."""

    __slots__ = ("type", "context", "children_specs", "num_leaves")

    def __init__(self, type, context, children_specs):
        self.type = type
        self.context = context
        self.children_specs = children_specs
        self.num_leaves = sum(c.num_leaves for c in children_specs)

    def is_leaf(self):
        """True for the spec of a single leaf."""
        return False

    @property
    def num_children(self):
        """How many children the root node has."""
        return len(self.children_specs)

    def __eq__(self, other):
        return (isinstance(other, TreeSpec) and self.is_leaf() == other.is_leaf() and self.type == other.type
                and self.context == other.context and self.children_specs == other.children_specs)

    def __hash__(self):
        return hash((self.type, repr(self.context)))

    def __repr__(self, indent=0):
        name = self.type.__name__ if self.type is not namedtuple else "namedtuple"
        first = f"TreeSpec({name}, {self._context_repr()}, ["
        children = [c.__repr__(indent + 2) for c in self.children_specs]
        sep = ",\n" + " " * (indent + 2)
        return first + sep.join(children) + "])"

    def _context_repr(self):
        return repr(self.context)


class LeafSpec(TreeSpec):
    """The spec of a single leaf (prints as ``*``)."""

    __slots__ = ()

    def __init__(self):
        super().__init__(None, None, [])
        self.num_leaves = 1

    def is_leaf(self):
        """True for the spec of a single leaf."""
        return True

    def __repr__(self, indent=0):
        return "*"


def _children(x, kind):
    if kind is dict or kind is OrderedDict:
        keys = list(x.keys())
        return [x[k] for k in keys], keys
    if kind is namedtuple:
        return list(x), type(x)
    return list(x), None


def tree_flatten(tree):
    """(leaves, spec): the leaves of tree in order and the structure to rebuild it."""
    leaves = []

    def rec(x):
        kind = _node_type(x)
        if kind is None:
            leaves.append(x)
            return LeafSpec()
        kids, ctx = _children(x, kind)
        return TreeSpec(kind, ctx, [rec(k) for k in kids])
    spec = rec(tree)
    return leaves, spec


def tree_unflatten(leaves, spec):
    """Rebuild the tree that spec describes from leaves."""
    leaves = list(leaves)
    if len(leaves) != spec.num_leaves:
        raise ValueError(f"treespec.unflatten(leaves): `leaves` has length {len(leaves)} but the spec refers "
                         f"to a pytree that holds {spec.num_leaves} items ({spec}).")
    it = iter(leaves)

    def rec(s):
        if s.is_leaf():
            return next(it)
        kids = [rec(c) for c in s.children_specs]
        if s.type is dict or s.type is OrderedDict:
            return s.type(zip(s.context, kids))
        if s.type is namedtuple:
            return s.context(*kids)
        return s.type(kids)
    return rec(spec)


def tree_leaves(tree):
    """The leaves of tree, in order."""
    return tree_flatten(tree)[0]


def tree_structure(tree):
    """The TreeSpec of tree."""
    return tree_flatten(tree)[1]


def tree_map(fn, tree):
    """tree with fn applied to every leaf."""
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def _broadcast_to_and_flatten(tree, spec):
    """tree's leaves repeated over the subtrees of spec they stand for (an int in_dims for a dict of
    tensors); None when tree's structure is not a prefix of spec's."""
    out = []

    def rec(x, s):
        kind = _node_type(x)
        if kind is None:
            out.extend([x] * s.num_leaves)
            return True
        if s.is_leaf() or kind != s.type:
            return False
        kids, ctx = _children(x, kind)
        if len(kids) != len(s.children_specs):
            return False
        if kind in (dict, OrderedDict) and list(ctx) != list(s.context):
            if set(ctx) != set(s.context):
                return False
            kids = [x[k] for k in s.context]
        return all(rec(k, c) for k, c in zip(kids, s.children_specs))
    return out if rec(tree, spec) else None
