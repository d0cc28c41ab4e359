# cython: language_level=3, boundscheck=False, wraparound=False
"""virtprov's ``<hostRequires/>`` compiler over libxml2's tree, through lxml's C API.

The pure-Python compiler (``virtprov.hostrequires.parse._FastCompiler``) is the
definition; this module is the same loop without the interpreter and without one lxml
proxy object per element. The vocabulary (element tables, operators, program kinds and
constants, the helpers for rare values) is handed to it by virtprov through
:func:`configure`, so the two cannot disagree on what an element means; the walk and its
folding are written twice, and virtprov's tests compare the two programs.

It handles the common documents only. On anything that makes the Python compiler warn,
raise or take a rare path (an unknown element, a bad ``op``, a value that is not plain
digits, a zero size, a namespace, an attribute value made of several nodes, the element,
depth and pattern caps...) :func:`compile_tree` returns ``None`` and virtprov compiles the same
tree in Python: a document the fast path accepts compiles to an equal program, one it
declines costs what it costs without this module.
"""

from cpython.long cimport PyLong_FromLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport strcmp, strlen

cimport lxml.includes.etreepublic as cetree
from lxml.includes cimport tree

cetree.import_lxml__etree()

#: What virtprov checks before using this module: the contract of configure/compile_tree.
ABI = 3

# What an element is, as the walk needs it (configure() fills these from virtprov's
# tables); the Python objects they point to are kept alive by _KEEP.
cdef enum Kind:
    K_OTHER
    K_KEY_VALUE
    K_NEVER
    K_DECLARED
    K_TARGET
    K_LAB  # a TARGET on the lab: the walk also collects its element
    K_ARCH
    K_SIZE

cdef struct Entry:
    const char* tag
    int what  # a container's program kind (AND, OR, NOT), or INTEGER_SIZE, TEXT, NUMBER
    Kind kind
    int level  # a container's vocabulary inside (an index into _LEVELS)
    bint bytes_value  # the value is multiplied by units=
    PyObject* value_type  # str or None
    PyObject* name  # the level's or the leaf's name, as in the program
    PyObject* declared_kind  # for DECLARED: kind_of(name)

cdef struct Level:
    Py_ssize_t count
    Entry* entries
    # entries[first[c]:first[c + 1]] are the tags beginning with byte c (sorted by it)
    unsigned short first[257]

cdef struct Operator:
    const char* written
    int opcode
    PyObject* code  # opcode as a Python int
    PyObject* text  # the operator's text, for DECLARED programs

cdef Level* _LEVELS = NULL
cdef Py_ssize_t _LEVEL_COUNT = 0
cdef int _HOST = -1
cdef Operator* _OPERATORS = NULL
cdef Py_ssize_t _OPERATOR_COUNT = 0
cdef unsigned short _OPERATOR_FIRST[257]  # as Level.first
cdef Operator _ABSENT_OP
cdef dict _KEY_VALUE_ENTRIES = None  # <key_value key=...> -> _BoxedEntry (looked up by key)
cdef object _NEVER_KEY_VALUE = None  # the _BoxedEntry of every other key
cdef list _KEEP = []
cdef object _V_TEXT, _V_BYTES
cdef object _TRUE, _FALSE, _DEPENDS, _YES, _LAB
cdef int _AND, _OR, _NOT, _CONSTANT, _LIKE, _NE
# the program kinds as the Python ints the tuples hold
cdef object _AND_O, _OR_O, _NOT_O, _SIZE_O, _ARCH_O, _TARGET_O, _DECLARED_O
cdef int _INTEGER_SIZE, _W_TEXT
cdef object _like_pattern, _declared_text, _kind_of, _size_program
cdef dict _BYTE_UNITS = None
cdef dict _BINARY_TWINS = None  # a decimal unit -> its binary namesake (a size's span)
# virtprov's patterns.Budget, which this walk only checks (past it, Python raises)
cdef Py_ssize_t _MAX_PATTERN_LENGTH = 0  # characters in one like pattern
cdef int _MAX_PATTERNS = 0  # like patterns in one document
cdef Py_ssize_t _MAX_PATTERN_CHARACTERS = 0  # characters of them all
cdef size_t _MAX_VALUE_LENGTH = 0  # characters of one attribute value (bytes are more)

# Longer digit strings are left to Python's int() (they fit no C long long).
cdef enum:
    MAX_DIGITS = 18


cdef const char* _keep_bytes(str text) except NULL:
    encoded = text.encode()
    _KEEP.append(encoded)
    return <const char*>encoded


cdef Entry _entry(tuple entry, dict kinds, dict level_index) except *:
    what, kind, value_type, name = entry
    cdef Entry e
    e.tag = NULL
    e.what = what
    e.kind = kinds.get(kind, K_OTHER)
    if e.kind == K_TARGET and name == _LAB:
        e.kind = K_LAB
    e.level = -1
    if what < _INTEGER_SIZE:
        if name not in level_index:
            raise ValueError(f"a container of an unknown level: {entry!r}")
        e.level = level_index[name]
    e.bytes_value = value_type is _V_BYTES
    _KEEP.append(value_type)
    _KEEP.append(name)
    e.value_type = <PyObject*>value_type
    e.name = <PyObject*>name
    declared_kind = _kind_of(name) if e.kind == K_DECLARED else None
    _KEEP.append(declared_kind)
    e.declared_kind = <PyObject*>declared_kind
    return e


def configure(dict spec):
    """Take the vocabulary and constants from virtprov (keys: see virtprov's parse.py)."""
    global _LEVELS, _LEVEL_COUNT, _HOST, _OPERATORS, _OPERATOR_COUNT, _ABSENT_OP
    global _KEY_VALUE_ENTRIES, _NEVER_KEY_VALUE, _V_TEXT, _V_BYTES, _TRUE, _FALSE, _DEPENDS, _LAB
    global _YES, _AND, _OR, _NOT, _CONSTANT, _LIKE, _NE, _OPERATOR_FIRST
    global _AND_O, _OR_O, _NOT_O, _SIZE_O, _ARCH_O, _TARGET_O, _DECLARED_O
    global _INTEGER_SIZE, _W_TEXT, _like_pattern, _declared_text, _kind_of, _size_program
    global _BYTE_UNITS, _BINARY_TWINS, _MAX_PATTERN_LENGTH, _MAX_PATTERNS
    global _MAX_PATTERN_CHARACTERS, _MAX_VALUE_LENGTH
    _free()
    _AND, _OR, _NOT = spec["P_AND"], spec["P_OR"], spec["P_NOT"]
    _CONSTANT, _LIKE, _NE = spec["P_CONSTANT"], spec["P_LIKE"], spec["P_NE"]
    _INTEGER_SIZE, _W_TEXT = spec["what_INTEGER_SIZE"], spec["what_TEXT"]
    _AND_O, _OR_O, _NOT_O, _SIZE_O = spec["P_AND"], spec["P_OR"], spec["P_NOT"], spec["P_SIZE"]
    _ARCH_O, _TARGET_O, _DECLARED_O = spec["P_ARCH"], spec["P_TARGET"], spec["P_DECLARED"]
    _TRUE, _FALSE, _DEPENDS, _LAB = spec["TRUE"], spec["FALSE"], spec["DEPENDS"], spec["lab"]
    _YES = spec["YES"]
    _V_TEXT, _V_BYTES = spec["value_TEXT"], spec["value_BYTES"]
    _like_pattern = spec["like_pattern"]
    _declared_text, _kind_of = spec["declared_text"], spec["kind_of"]
    _size_program = spec["size_program"]
    _BYTE_UNITS = spec["byte_units"]
    _BINARY_TWINS = spec["binary_twins"]
    _MAX_PATTERN_LENGTH = spec["max_pattern_length"]
    _MAX_PATTERNS = spec["max_patterns"]
    _MAX_PATTERN_CHARACTERS = spec["max_pattern_characters"]
    _MAX_VALUE_LENGTH = spec["max_value_length"]
    kinds = {
        spec["KEY_VALUE"]: K_KEY_VALUE,
        spec["NEVER"]: K_NEVER,
        spec["DECLARED"]: K_DECLARED,
        spec["TARGET"]: K_TARGET,
        spec["ARCH"]: K_ARCH,
        spec["SIZE"]: K_SIZE,
    }
    tables = spec["tables"]
    level_index = {level: number for number, level in enumerate(tables)}
    _HOST = level_index["host"]
    levels = <Level*>PyMem_Malloc(len(tables) * sizeof(Level))
    for number, table in enumerate(tables.values()):
        by_first = sorted(table.items(), key=lambda item: item[0].encode()[:1])
        levels[number].count = len(table)
        levels[number].entries = <Entry*>PyMem_Malloc(len(table) * sizeof(Entry))
        for i, (tag, entry) in enumerate(by_first):
            levels[number].entries[i] = _entry(entry, kinds, level_index)
            levels[number].entries[i].tag = _keep_bytes(tag)
        _index([tag for tag, _ in by_first], levels[number].first)
    operators = [(w, code, spec["op_text"][w]) for w, code in spec["opcodes"].items()]
    operators.sort(key=lambda operator: (operator[0] or "").encode()[:1])
    _OPERATORS = <Operator*>PyMem_Malloc(len(operators) * sizeof(Operator))
    _OPERATOR_COUNT = 0
    for written, code, text in operators:
        _KEEP.append(text)
        _KEEP.append(code)
        if written is None:
            _ABSENT_OP.written = NULL
            _ABSENT_OP.opcode = code
            _ABSENT_OP.code = <PyObject*>code
            _ABSENT_OP.text = <PyObject*>text
        else:
            _OPERATORS[_OPERATOR_COUNT].written = _keep_bytes(written)
            _OPERATORS[_OPERATOR_COUNT].opcode = code
            _OPERATORS[_OPERATOR_COUNT].code = <PyObject*>code
            _OPERATORS[_OPERATOR_COUNT].text = <PyObject*>text
            _OPERATOR_COUNT += 1
    _index([w for w, _, _ in operators if w is not None], _OPERATOR_FIRST)
    _KEY_VALUE_ENTRIES = {
        key: _boxed(entry, kinds, level_index)
        for key, entry in spec["key_value_entries"].items()
    }
    _NEVER_KEY_VALUE = _boxed(spec["never_key_value"], kinds, level_index)
    _LEVEL_COUNT = len(tables)
    _LEVELS = levels


cdef void _index(list names, unsigned short* first):
    """first[c]: how many of ``names`` (sorted by their first byte) begin below byte c."""
    firsts = [name.encode()[0] for name in names]
    for c in range(257):
        first[c] = sum(1 for f in firsts if f < c)


cdef void _free() noexcept:
    """Forget an earlier configuration (virtprov's parse module was reloaded)."""
    global _LEVELS, _LEVEL_COUNT, _OPERATORS, _OPERATOR_COUNT
    cdef Py_ssize_t i
    if _LEVELS is not NULL:
        for i in range(_LEVEL_COUNT):
            PyMem_Free(_LEVELS[i].entries)
        PyMem_Free(_LEVELS)
    PyMem_Free(_OPERATORS)
    _LEVELS, _LEVEL_COUNT, _OPERATORS, _OPERATOR_COUNT = NULL, 0, NULL, 0
    del _KEEP[:]


cdef class _BoxedEntry:
    cdef Entry entry


cdef _BoxedEntry _boxed(tuple entry, dict kinds, dict level_index):
    boxed = _BoxedEntry()
    boxed.entry = _entry(entry, kinds, level_index)
    return boxed


cdef inline const Entry* _find(const Level* level, const char* tag) noexcept:
    cdef unsigned char c = <unsigned char>tag[0]
    cdef Py_ssize_t i
    for i in range(level.first[c], level.first[c + 1]):
        if strcmp(level.entries[i].tag, tag) == 0:
            return &level.entries[i]
    return NULL


cdef inline object _negate(object inner):
    """virtprov's program.negate."""
    if inner is _TRUE:
        return _FALSE
    if inner is _FALSE:
        return _TRUE
    static = inner[1]
    return (_NOT_O, None if static is None else _YES - static, inner)


cdef inline const Operator* _operator(const char* written) noexcept:
    cdef unsigned char c = <unsigned char>written[0]
    cdef Py_ssize_t i
    for i in range(_OPERATOR_FIRST[c], _OPERATOR_FIRST[c + 1]):
        if strcmp(_OPERATORS[i].written, written) == 0:
            return &_OPERATORS[i]
    return NULL


cdef enum Found:
    ABSENT = 0
    FOUND = 1
    COMPLEX = 2  # several nodes (entity references): lxml joins them; leave it to Python


cdef Found _attr(tree.xmlNode* node, const char* name, const char** value) noexcept:
    """The un-namespaced attribute ``name``, as lxml's ``get()`` finds it."""
    cdef tree.xmlAttr* attr = node.properties
    cdef tree.xmlNode* text
    while attr is not NULL:
        if attr.ns is NULL and strcmp(<const char*>attr.name, name) == 0:
            text = attr.children
            if text is NULL:
                value[0] = b""
                return FOUND
            if text.next is NULL and text.type == tree.XML_TEXT_NODE:
                value[0] = <const char*>text.content
                return FOUND
            return COMPLEX
        attr = attr.next
    return ABSENT


cdef bint _long_value(tree.xmlNode* node) noexcept:
    """Whether an attribute of ``node`` may be over virtprov's MAX_VALUE_LENGTH (its
    bytes are: Python counts its characters, and raises or accepts)."""
    cdef tree.xmlAttr* attr = node.properties
    cdef tree.xmlNode* text
    while attr is not NULL:
        text = attr.children
        while text is not NULL:
            if text.content is not NULL and strlen(<const char*>text.content) > _MAX_VALUE_LENGTH:
                return True
            text = text.next
        attr = attr.next
    return False


cdef inline str _text(const char* value):
    return PyUnicode_DecodeUTF8(value, strlen(value), NULL)


cdef object _digits(const char* value):
    """A non-empty run of ASCII digits as an int, ``None`` for anything else."""
    cdef long long number = 0
    cdef Py_ssize_t length = strlen(value)
    cdef Py_ssize_t i
    if length == 0 or length > MAX_DIGITS:
        return None
    for i in range(length):
        if value[i] < 48 or value[i] > 57:  # '0'..'9'
            return None
        number = number * 10 + (value[i] - 48)
    return PyLong_FromLongLong(number)


cdef class _Walk:
    cdef int elements
    cdef int patterns
    cdef Py_ssize_t pattern_characters
    cdef int max_elements
    cdef int max_depth
    cdef list lab_locs
    cdef cetree._Document doc


cdef object _walk(_Walk walk, tree.xmlNode* el, int level, int depth, int container):
    """The folded program of container ``el``, or ``None``: compile this document in Python."""
    if depth > walk.max_depth:
        return None
    cdef const Level* table = &_LEVELS[level]
    cdef bint any_of = container == _OR
    cdef list kept = []
    cdef bint decided = False
    cdef bint dynamic = False
    cdef tree.xmlNode* child = el.children
    cdef const Entry* entry
    cdef const Operator* op
    cdef const char* written
    cdef const char* value
    cdef Found has_op, has_value, found
    cdef object node, name, amount, high, text, pattern
    while child is not NULL:
        if child.type != tree.XML_ELEMENT_NODE:  # text, comments, processing instructions
            child = child.next
            continue
        walk.elements += 1
        if walk.elements > walk.max_elements or child.ns is not NULL or _long_value(child):
            return None
        entry = _find(table, <const char*>child.name)
        if entry is NULL:  # an unknown element: Python warns
            return None
        if entry.kind == K_KEY_VALUE:
            found = _attr(child, b"key", &value)
            if found == COMPLEX:
                return None
            key = _text(value) if found == FOUND else ""
            entry = &(<_BoxedEntry>_KEY_VALUE_ENTRIES.get(key, _NEVER_KEY_VALUE)).entry
        name = <object>entry.name
        if entry.what < _INTEGER_SIZE:
            node = _walk(walk, child, entry.level, depth + 1, entry.what)
            if node is None:
                return None
        else:
            has_op = _attr(child, b"op", &written)
            if has_op == COMPLEX:
                return None
            if has_op == ABSENT:
                op = &_ABSENT_OP
            else:
                op = _operator(written)
                if op is NULL:  # an unknown op: Python raises
                    return None
            has_value = _attr(child, b"value", &value)
            if has_value == COMPLEX:
                return None
            if entry.what != _W_TEXT:
                if op.opcode == _LIKE or has_value == ABSENT or entry.kind == K_DECLARED:
                    return None
                amount = _digits(value)
                if amount is None:
                    return None
                high = None
                if entry.bytes_value:
                    found = _attr(child, b"units", &written)
                    if found == COMPLEX:
                        return None
                    if found == FOUND:
                        units = _text(written)
                        multiplier = _BYTE_UNITS.get(units)
                        if multiplier is None:
                            return None
                        twin = _BINARY_TWINS.get(units)
                        if twin is not None:  # a decimal unit: the span to its binary one
                            high = amount * twin
                        amount = amount * multiplier
                if entry.kind != K_SIZE:
                    # a new VM is not the system named: != holds, the rest does not
                    node = _TRUE if entry.kind == K_NEVER and op.opcode == _NE else _FALSE
                elif not amount:  # Python warns: 0 imposes nothing
                    return None
                elif high is not None:
                    node = _size_program(name, <object>op.code, amount, high)
                else:
                    kept.append((_SIZE_O, _DEPENDS, name, <object>op.code, amount))
                    child = child.next
                    continue
            elif entry.kind == K_NEVER:  # a new VM is not the system (pool...) named
                node = _TRUE if op.opcode == _NE else _FALSE
            else:
                text = _text(value) if has_value == FOUND else ""
                if op.opcode == _LIKE:
                    walk.patterns += 1
                    walk.pattern_characters += len(text)
                    if (
                        walk.patterns > _MAX_PATTERNS
                        or len(text) > _MAX_PATTERN_LENGTH
                        or walk.pattern_characters > _MAX_PATTERN_CHARACTERS
                    ):
                        return None  # Python raises, naming the element
                    pattern = _like_pattern(text)
                else:
                    pattern = None
                dynamic = True
                if entry.kind == K_DECLARED:
                    value_type = <object>entry.value_type
                    kept.append(
                        (_DECLARED_O, None, name, <object>entry.declared_kind, <object>op.text,
                         _declared_text(value_type or _V_TEXT, text), pattern)
                    )
                elif entry.kind == K_TARGET or entry.kind == K_LAB:
                    if entry.kind == K_LAB:
                        walk.lab_locs.append(cetree.elementFactory(walk.doc, child))
                    kept.append((_TARGET_O, None, name, <object>op.code, text, pattern))
                elif entry.kind == K_ARCH:
                    kept.append((_ARCH_O, None, <object>op.code, text, pattern))
                else:  # a kind this walk does not know
                    return None
                child = child.next
                continue
        if node[0] == _CONSTANT:
            if (node is _TRUE) == any_of:
                decided = True
        else:
            if node[1] is None:
                dynamic = True
            kept.append(node)
        child = child.next
    # The folding of virtprov's _FastCompiler.walk (and program.fold_all/fold_any).
    if decided:
        folded = _TRUE if any_of else _FALSE
    elif not kept:
        folded = _FALSE if any_of else _TRUE
    elif len(kept) == 1:
        folded = kept[0]
    else:
        folded = (_OR_O if any_of else _AND_O, None if dynamic else _DEPENDS, tuple(kept))
    if container == _NOT:
        return _negate(folded)
    return folded


def compile_tree(cetree._Element root, int max_depth, int max_elements):
    """``(program, lab elements)`` of a ``<hostRequires>`` element, or ``None``: compile it
    in Python (see the module's docstring). A root with ``force=`` is declined too."""
    if _LEVELS is NULL:
        raise RuntimeError("configure() first")
    cdef const char* force
    if _attr(root._c_node, b"force", &force) != ABSENT or _long_value(root._c_node):
        return None
    cdef _Walk walk = _Walk()
    walk.max_depth = max_depth
    walk.max_elements = max_elements
    walk.patterns = 0
    walk.pattern_characters = 0
    walk.lab_locs = []
    walk.doc = root._doc
    program = _walk(walk, root._c_node, _HOST, 1, _AND)
    if program is None:
        return None
    return program, walk.lab_locs
