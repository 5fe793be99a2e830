import Foundation

/// The Python harness for assertion tests (``LanguageRunner/AssertionStyle/pythonHarness``).
///
/// The harness, not the program, is the process's main script. It reads a per-run marker from standard input
/// (then replaces standard input with `/dev/null`), compiles the tests before the program runs, runs the program
/// as `__main__` (`sys.exit()` / `sys.exit(0)` end the program, not the tests), then runs the tests with the
/// built-ins as they were before the program started. Every comparison and truth test in the tests is rewritten
/// to a harness function that accepts only plain built-in data (exact `int`, `float`, `str`, `list`, `dict`, …,
/// checked all the way down), so an object whose `__eq__` or `__bool__` always says yes fails. Only after the
/// last test does it print the marker; the parent requires it, so exiting early (`os._exit(0)`, a signal) fails.
///
/// Limits: the program runs in the same interpreter, so a program written against this harness can still find the
/// marker in the harness's memory (frame introspection, `ctypes`); the harness stops the generic hacks (early exit,
/// always-equal objects, patched built-ins, printed look-alike markers), not a targeted attack on itself.
enum PythonHarness {
    /// A Python script that runs `program` and then `tests` as described above.
    static func script(program: String, tests: String) -> String {
        let p = Data(program.utf8).base64EncodedString()
        let t = Data(tests.utf8).base64EncodedString()
        return source + "\n\nimport base64\n_ponder_run(base64.b64decode('\(p)').decode(), base64.b64decode('\(t)').decode())\n"
    }

    /// A fresh random marker: 128 bits the program cannot guess.
    static func marker() -> String {
        var g = SystemRandomNumberGenerator()
        return "PONDER-TESTS-RAN-" + String(g.next() as UInt64, radix: 16) + String(g.next() as UInt64, radix: 16)
    }

    /// The harness itself.
    static let source = #"""
    def _ponder_run(program, tests):
        import os, sys, ast, types, builtins, operator, traceback
        _type, _id, _len, _bool, _iter, _isinstance = type, id, len, bool, iter, isinstance
        _write, _exit, _dup2, _open, _close, _read = os.write, os._exit, os.dup2, os.open, os.close, os.read
        _format_exc = traceback.format_exc
        _builtins = dict(vars(builtins))

        def fail(message, status=1):
            try:
                sys.stdout.flush()
            except BaseException:
                pass
            try:
                _write(2, ("\n" + message.rstrip("\n") + "\n").encode("utf-8", "replace"))
            finally:
                _exit(status)

        # The per-run marker comes on standard input, which is then replaced by /dev/null.
        marker = _read(0, 256).strip()
        null = _open(os.devnull, os.O_RDONLY)
        _dup2(null, 0)
        _close(null)

        # Values whose comparisons and truth the harness trusts: exact built-in types only, containers checked
        # all the way down. Anything else (the program's own classes, subclasses of built-ins) could answer anything.
        plain = [bool, int, float, complex, str, bytes, bytearray, _type(None), list, tuple, dict, set, frozenset, range,
                 _type({}.keys()), _type({}.values()), _type({}.items())]
        scalars = [bool, int, float, complex, str, bytes, bytearray, _type(None), range]
        try:
            import fractions, decimal
            plain += [fractions.Fraction, decimal.Decimal]
            scalars += [fractions.Fraction, decimal.Decimal]
        except Exception:
            pass
        plain, scalars = tuple(plain), tuple(scalars)

        def check(value):
            stack, seen = [value], set()
            while stack:
                v = stack.pop()
                t = _type(v)
                if not any(t is p for p in plain):
                    return "a value of type %s (only plain built-in data is compared)" % t.__name__
                if any(t is p for p in scalars):
                    continue
                if _id(v) in seen:
                    continue
                seen.add(_id(v))
                if t is dict:
                    stack.extend(dict.keys(v))
                    stack.extend(dict.values(v))
                else:
                    stack.extend(_iter(v))
            return None

        ops = {"Eq": operator.eq, "NotEq": operator.ne, "Lt": operator.lt, "LtE": operator.le, "Gt": operator.gt,
               "GtE": operator.ge, "In": lambda a, b: a in b, "NotIn": lambda a, b: a not in b,
               "Is": operator.is_, "IsNot": operator.is_not}

        class Untrusted(Exception):
            pass

        def compare(left, *rest):
            for i in range(0, _len(rest), 2):
                op, right = rest[i], rest[i + 1]
                if op not in ("Is", "IsNot"):
                    for side in (left, right):
                        why = check(side)
                        if why is not None:
                            raise Untrusted("comparison on " + why)
                result = ops[op](left, right)
                if _type(result) is not bool:
                    raise Untrusted("comparison gave a %s" % _type(result).__name__)
                if not result:
                    return False
                left = right
            return True

        def truth(value):
            why = check(value)
            if why is not None:
                raise Untrusted("truth of " + why)
            return _bool(value)

        class Rewrite(ast.NodeTransformer):
            def call(self, name, args):
                return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=[])

            def visit_Compare(self, node):
                self.generic_visit(node)
                args = [node.left]
                for op, right in zip(node.ops, node.comparators):
                    args += [ast.Constant(_type(op).__name__), right]
                return ast.copy_location(self.call("__ponder_compare", args), node)

            def wrap(self, node):
                return ast.copy_location(self.call("__ponder_truth", [node]), node)

            def visit_Assert(self, node):
                self.generic_visit(node)
                node.test = self.wrap(node.test)
                return node

            def visit_UnaryOp(self, node):
                self.generic_visit(node)
                if _isinstance(node.op, ast.Not):
                    node.operand = self.wrap(node.operand)
                return node

            def visit_BoolOp(self, node):
                self.generic_visit(node)
                node.values = [self.wrap(v) for v in node.values]
                return node

            def visit_If(self, node):
                self.generic_visit(node)
                node.test = self.wrap(node.test)
                return node

            visit_IfExp = visit_If
            visit_While = visit_If

            def visit_comprehension(self, node):
                self.generic_visit(node)
                node.ifs = [self.wrap(c) for c in node.ifs]
                return node

        # Tests are compiled before the program runs, into a function whose helpers are its parameters (locals the
        # program's code cannot rebind), and run with the built-ins as they were before the program started.
        try:
            tree = ast.parse(tests, "tests.py")
            body = tree.body or [ast.Pass()]
            fn = ast.FunctionDef(
                name="__ponder_tests",
                args=ast.arguments(posonlyargs=[], args=[ast.arg("__ponder_compare"), ast.arg("__ponder_truth")],
                                   kwonlyargs=[], kw_defaults=[], defaults=[]),
                body=[Rewrite().visit(s) for s in body], decorator_list=[], returns=None, type_params=[])
            module = ast.Module(body=[fn], type_ignores=[])
            ast.fix_missing_locations(module)
            tests_code = compile(module, "tests.py", "exec")
            program_code = compile(program, "solution.py", "exec")
        except SyntaxError:
            fail(_format_exc())

        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = builtins
        main.__dict__["__file__"] = "solution.py"
        sys.modules["__main__"] = main
        try:
            exec(program_code, main.__dict__)
        except SystemExit as e:
            # sys.exit() / sys.exit(0) ends the program, not the tests; any other status is the program's failure.
            code = e.code
            if code is not None and code != 0:
                fail("program exited with status %r before the tests" % (code,), code if _type(code) is int and 0 < code < 256 else 1)
        except BaseException:
            fail(_format_exc())

        scope = dict(main.__dict__)
        scope["__builtins__"] = _builtins
        try:
            exec(tests_code, scope)
            scope["__ponder_tests"](compare, truth)
        except Untrusted as e:
            fail("AssertionError: " + str(e))
        except SystemExit:
            fail("the program exited while the tests ran")
        except BaseException:
            fail(_format_exc())
        try:
            sys.stdout.flush()
        except BaseException:
            pass
        _write(1, b"\n" + marker + b"\n")
        _exit(0)
    """#
}
