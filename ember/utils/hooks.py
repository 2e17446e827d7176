"""ember.utils.hooks: the handle hooks registrations return (torch.utils.hooks)."""
import weakref
from collections import OrderedDict

__all__ = ["RemovableHandle"]


class RemovableHandle:
    """A handle that removes the hook it was returned for (torch.utils.hooks.RemovableHandle)."""

    next_id = 0
    # ember's autograd keeps a tensor's or a node's hooks in a list, in the order the engine runs
    # them, rather than in a dict keyed by handle id: such a handle removes its own entry (see _in_list)
    _entry = None

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        self.extra_dict_ref = ()
        if isinstance(extra_dict, dict):
            self.extra_dict_ref = (weakref.ref(extra_dict),)
        elif isinstance(extra_dict, list):
            self.extra_dict_ref = tuple(weakref.ref(d) for d in extra_dict)

    @classmethod
    def _in_list(cls, hooks, entry):
        """A handle for entry of hooks, a weakly referenceable list (ember.autograd.graph's)."""
        handle = cls(hooks)
        handle._entry = entry
        return handle

    def remove(self):
        """Unregister the hook."""
        hooks_dict = self.hooks_dict_ref()
        if self._entry is not None:
            # by identity: two registrations of one function are two entries, each with its handle
            for i, entry in enumerate(hooks_dict or ()):
                if entry is self._entry:
                    del hooks_dict[i]
                    break
        elif hooks_dict is not None and self.id in hooks_dict:
            del hooks_dict[self.id]
        for ref in self.extra_dict_ref:
            extra = ref()
            if extra is not None and self.id in extra:
                del extra[self.id]

    def __getstate__(self):
        return (self.hooks_dict_ref(), self.id, tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state):
        self.hooks_dict_ref = weakref.ref(state[0] if state[0] is not None else OrderedDict())
        self.id = state[1]
        RemovableHandle.next_id = max(RemovableHandle.next_id, self.id + 1)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in state[2]) if len(state) > 2 and state[2] else ()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
