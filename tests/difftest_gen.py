"""Random asyncio programs for the differential test (test_differential.py).

generate(seed) returns a Program: Python source text (readable, printed on a
mismatch) of coroutine functions built from tasks, futures, cancellations
with messages, gather, wait, wait_for, shield, TaskGroup, asyncio.timeout,
call_soon callbacks, done callbacks, uncancel()/cancelling() and exceptions,
plus the set of features it uses.  run(program, loop_factory, ...)
executes the source in a fresh namespace under asyncio.Runner and returns the
event trace: a list of strings (who did what, results, exception types and
messages, cancelled() states, cancelling() counts, the order of completions,
the exception handler's calls).

Nothing here reads the clock: the only waits are sleep(0), futures resolved
by other tasks, and timeouts that are either already due (0, -1, a
reschedule into the past) or never due (100 s), so the trace is a function
of the program and the loop's scheduling order alone.

Every program terminates: top-level task i refers only to tasks j < i and to
the shared futures, and main's final phase resolves every future still
pending, then lets the tasks run out (bounded by a count of sleep(0)s; a
task still pending then is recorded as STUCK and cancelled).
"""
import asyncio
import gc
import random
import sys

__all__ = ("FEATURES", "Program", "generate", "run", "PRELUDE")

HAS_EAGER = sys.version_info >= (3, 12)

# Every feature the generator can use: the self-check in
# tests/test_differential.py asserts that the CI seeds use all of them.
FEATURES = frozenset("""
    sleep0 note_cancelling fut_set_result fut_set_exception fut_cancel
    fut_cancel_msg await_fut cancel_task cancel_task_msg self_cancel
    await_task call_soon call_soon_raises done_cb done_cb_raises spawn
    gather gather_return_exceptions gather_empty gather_duplicate
    gather_outer_cancel uncancel_other wait_first_completed
    wait_first_exception wait_all_completed wait_timeout0 wait_timeout_never
    wait_for wait_for_timeout0 shield taskgroup taskgroup_body_raises
    timeout timeout0 timeout_never timeout_none timeout_reschedule_past
    raise return swallow_cancel uncancel reraise_cancel
    peek sleep_result ensure_future lock semaphore event_wait event_set
    queue_get queue_put future_subclass custom_awaitable as_completed
    contextvar_set contextvar_get remove_done_cb task_factory
""".split()) | ({"eager"} if HAS_EAGER else frozenset())

# Run first, in the program's namespace.  T (the trace's append),
# EAGER_FACTORY (None, or the eager task factory of the implementation under
# test) and TASK (its Task class) are put there by run().
PRELUDE = r'''
import asyncio
import contextvars
import re

CV = contextvars.ContextVar('CV', default='-')
F = []    # the shared futures, made by main
TS = []   # the top-level tasks t0, t1, ...
ALL = []  # every task made through mk(), in creation order
LATE = [] # "exception was never retrieved" reports
LOCK = asyncio.Lock()
EVENT = asyncio.Event()
SEM = asyncio.Semaphore(2)
QUEUE = asyncio.Queue()


class SubFuture(asyncio.Future):
    """Not exactly asyncio's Future: the generic paths."""


class Awaitable:
    """Neither a coroutine nor a future: ensure_future() wraps it."""

    def __init__(self, fut):
        self.fut = fut

    def __await__(self):
        return (yield from self.fut.__await__())


def plain_factory(loop, coro, **kw):
    return TASK(coro, loop=loop, **kw)


def ct():
    return asyncio.current_task()


def fmt(e):
    if isinstance(e, BaseExceptionGroup):
        subs = ', '.join(fmt(x) for x in e.exceptions)
        return f'{type(e).__name__}({e.message!r}, [{subs}])'
    s = f'{type(e).__name__}({str(e)!r})'
    if e.__cause__ is not None:
        s += ' from ' + fmt(e.__cause__)
    elif e.__context__ is not None and not e.__suppress_context__:
        s += ' during ' + type(e.__context__).__name__
    return s


def fv(v):
    if isinstance(v, BaseException):
        return fmt(v)
    if isinstance(v, (list, tuple)):
        return '[' + ', '.join(fv(x) for x in v) + ']'
    return repr(v)


def nm(x):
    if hasattr(x, 'get_name'):
        name = x.get_name()
        # A task the program did not name: its default name counts the
        # process's tasks; and 3.13.0's eager tasks read 'None' after
        # their first step (a CPython bug, gone in 3.14).
        return 'unnamed' if re.fullmatch(r'Task-\d+|None', name) else name
    for i, f in enumerate(F):
        if f is x:
            return f'F{i}'
    return '?'


def names(xs):
    return sorted(nm(x) for x in xs)


def state(f):
    if not f.done():
        return 'pending'
    if f.cancelled():
        return 'cancelled'
    e = f.exception()
    return '!' + fmt(e) if e is not None else '=' + repr(f.result())


def mk(coro, name):
    t = asyncio.get_running_loop().create_task(coro, name=name)
    ALL.append(t)
    return t


def on_done(tag, raises=False):
    def cb(f):
        T(f'{tag} done-cb {state(f)} cv={CV.get()}')
        if raises:
            raise RuntimeError(f'{tag} done-cb raises')
    return cb


def handler(loop, ctx):
    msg = re.sub(r'0x[0-9a-f]+', '0x?', str(ctx.get('message')))
    # a task's default name counts every task the process made (stock's
    # and casyncio's counters differ with what ran before in the session)
    msg = re.sub(r'Task-\d+', 'Task-?', msg)
    exc = ctx.get('exception')
    ev = f'EH {msg} | {fmt(exc) if exc is not None else None} | {sorted(ctx)}'
    if msg.endswith('never retrieved'):
        # Logged when the object dies: by reference count or by the
        # garbage collector, whenever it runs (even stock asyncio's trace
        # has it or not from one run to the next): not compared.
        LATE.append(ev)
    else:
        T(ev)


def canceller(tag, fut, msg=None):
    T(f'{tag} cancel -> {fut.cancel(msg)}')


def unfinished():
    # Every task, not only ALL's (the runner would cancel the others in
    # the order of a set).
    me = ct()
    others = [t for t in asyncio.all_tasks() if t not in ALL]
    return [t for t in ALL + others if t is not me and not t.done()]


async def final_phase():
    for rnd in range(20):
        for i, f in enumerate(F):
            if not f.done():
                T(f'final resolve F{i}')
                f.set_result(f'late{i}')
        if not EVENT.is_set():
            T('final EVENT.set')
            EVENT.set()
        for _ in range(5):
            QUEUE.put_nowait(f'late{rnd}')
        for _ in range(10):
            if not unfinished():
                break
            await asyncio.sleep(0)
        if not unfinished():
            break
    stuck = unfinished()
    if stuck:
        # A generator bug: test_differential fails on it.
        T(f'STUCK {names(stuck)}')
        for t in sorted(stuck, key=nm):
            t.cancel('stuck')
        await asyncio.wait(stuck)
    for t in ALL:
        T(f'final {t.get_name()} {state(t)} cancelling={t.cancelling()}')
    for i, f in enumerate(F):
        T(f'final F{i} {state(f)}')
    T(f'final pending tasks {len(asyncio.all_tasks())}')
'''


class Program:
    """A generated program: its source (PRELUDE not included) and the
    features it uses."""

    def __init__(self, seed, source, features):
        self.seed = seed
        self.source = source
        self.features = features
        self._code = None

    def code(self):
        if self._code is None:
            self._code = compile(PRELUDE + self.source,
                                 f'<difftest seed {self.seed}>', 'exec')
        return self._code


def run(program, loop_factory, eager_factory=None, task_class=asyncio.Task):
    """Run program on a fresh loop from loop_factory (with eager_factory
    and task_class as the implementation's eager task factory and Task
    class); return its trace."""
    trace = []
    ns = {'T': trace.append, 'EAGER_FACTORY': eager_factory,
          'TASK': task_class,
          '__name__': f'difftest_{program.seed}'}
    exec(program.code(), ns)
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            result = runner.run(ns['main']())
        trace.append(f'main -> {result!r}')
    except BaseException as e:  # noqa: B902 - recorded, both loops alike
        trace.append(f'run raised {type(e).__name__}({str(e)!r})')
    out = list(trace)
    for name in ('F', 'TS', 'ALL'):
        ns[name].clear()
    gc.collect()    # the "never retrieved" reports, while LATE exists
    ns.clear()
    return out


def _indent(lines, n=1):
    return ['    ' * n + ln for ln in lines]


class _Gen:
    MAX_DEPTH = 2

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.defs = []
        self.features = set()
        self.nfn = 0
        self.nfut = self.r.randint(1, 4)
        self.eager = HAS_EAGER and self.r.random() < 0.3

    # -- helpers -----------------------------------------------------------
    def use(self, feature):
        assert feature in FEATURES, feature
        self.features.add(feature)

    def fresh(self, prefix):
        self.nfn += 1
        return f'{prefix}{self.nfn}'

    def msg(self):
        return self.r.choice([None, 'm' + str(self.r.randint(0, 99))])

    def guard(self, tag, body, main=False):
        """body inside try: CancelledError re-raised, swallowed, or
        swallowed with uncancel(); other exceptions recorded."""
        r = self.r
        policy = 'raise' if main else r.choice(
            ['raise', 'raise', 'swallow', 'uncancel'])
        lines = ['try:'] + _indent(body) + [
            'except asyncio.CancelledError as e:',
            f"    T(f'{{me}} {tag} cancelled {{fmt(e)}} "
            f"cancelling={{ct().cancelling()}}')",
        ]
        if policy == 'raise':
            self.use('reraise_cancel')
            lines.append('    raise')
        elif policy == 'swallow':
            self.use('swallow_cancel')
        else:
            self.use('uncancel')
            lines.append(f"    T(f'{{me}} {tag} uncancel -> "
                         f"{{ct().uncancel()}}')")
        lines += ['except Exception as e:',
                  f"    T(f'{{me}} {tag} !{{fmt(e)}}')"]
        return lines

    def awaitable(self, ctx, depth, allow_fut=True, allow_task=True):
        """An expression for something awaitable: a fresh sub-coroutine
        call, a shared future, an earlier top-level task, or a new task."""
        r = self.r
        kinds = ['coro', 'coro', 'spawned']
        if allow_fut:
            kinds.append('fut')
        if allow_task and ctx['top'] > 0:
            kinds.append('task')
        if depth >= self.MAX_DEPTH:
            kinds = [k for k in kinds if k not in ('coro', 'spawned')] or \
                ['fut']
        k = r.choice(kinds)
        if k == 'fut':
            if r.random() < 0.15:
                self.use('custom_awaitable')
                return f'Awaitable(F[{r.randrange(self.nfut)}])'
            return f'F[{r.randrange(self.nfut)}]'
        if k == 'task':
            return f'TS[{r.randrange(ctx["top"])}]'
        fn = self.function(ctx, depth + 1)
        if k == 'coro':
            return f'{fn}()'
        self.use('spawn')
        return f"mk({fn}(), '{fn}.task')"

    # -- functions ---------------------------------------------------------
    def function(self, ctx, depth, name=None):
        """Define an async function with a random body; return its name."""
        name = name or self.fresh('c')
        body = self.body(ctx, depth, self.r.randint(1, 5))
        lines = [f'async def {name}():', f"    me = '{name}'"]
        lines += _indent(body)
        self.defs.append('\n'.join(lines))
        return name

    def body(self, ctx, depth, n):
        lines = []
        for _ in range(n):
            lines += self.statement(ctx, depth)
        r = self.r.random()
        if r < 0.15 and not ctx.get('main'):
            self.use('raise')
            exc = self.r.choice(['ValueError', 'KeyError', 'OSError'])
            lines.append(f"raise {exc}(me + ' boom')")
        elif r < 0.6 and not ctx.get('main'):
            self.use('return')
            lines.append("return 'rv-' + me")
        return lines

    STATEMENTS = {
        'sleep0': 6, 'note': 2, 'resolve': 5, 'await_fut': 5,
        'cancel_task': 4, 'self_cancel': 1, 'await_task': 2,
        'call_soon': 2, 'done_cb': 2, 'spawn': 2, 'gather': 3, 'wait': 3,
        'wait_for': 2, 'shield': 2, 'taskgroup': 2, 'timeout': 3,
        'peek': 2, 'sleep_result': 1, 'ensure_future': 1, 'lock': 2,
        'semaphore': 1, 'event_wait': 1, 'event_set': 1, 'queue_get': 1,
        'queue_put': 1, 'as_completed': 1, 'cv': 3, 'remove_done_cb': 1,
    }
    MAIN_STATEMENTS = ('sleep0', 'note', 'resolve', 'cancel_task',
                       'call_soon', 'done_cb', 'peek', 'event_set',
                       'queue_put', 'cv')

    def statement(self, ctx, depth):
        r = self.r
        if ctx.get('main'):
            kinds = self.MAIN_STATEMENTS
        elif ctx.get('holder'):
            kinds = self.HOLDER_STATEMENTS
        else:
            kinds = list(self.STATEMENTS)
            if depth >= self.MAX_DEPTH:
                kinds = [k for k in kinds if k not in (
                    'gather', 'wait', 'taskgroup', 'timeout', 'spawn',
                    'wait_for', 'shield', 'lock', 'semaphore',
                    'ensure_future', 'as_completed')]
        if ctx['top'] == 0:
            kinds = [k for k in kinds if k not in (
                'cancel_task', 'await_task', 'peek')]
        weights = [self.STATEMENTS[k] for k in kinds]
        kind = r.choices(kinds, weights)[0]
        return getattr(self, 's_' + kind)(ctx, depth)

    def s_sleep0(self, ctx, depth):
        self.use('sleep0')
        if ctx.get('main'):
            return ['await asyncio.sleep(0)']
        tag = self.fresh('s')
        return self.guard(tag, ['await asyncio.sleep(0)'])

    def s_note(self, ctx, depth):
        self.use('note_cancelling')
        return ["T(f'{me} cancelling={ct().cancelling()}')"]

    def s_resolve(self, ctx, depth):
        r = self.r
        k = r.randrange(self.nfut)
        how = r.choice(['result', 'exception', 'cancel'])
        if how == 'result':
            self.use('fut_set_result')
            return [f'if not F[{k}].done():',
                    f"    T(f'{{me}} F{k}.set_result')",
                    f"    F[{k}].set_result('r{k}-' + me)"]
        if how == 'exception':
            self.use('fut_set_exception')
            exc = r.choice(['ValueError', 'ZeroDivisionError'])
            return [f'if not F[{k}].done():',
                    f"    T(f'{{me}} F{k}.set_exception')",
                    f"    F[{k}].set_exception({exc}('e{k}-' + me))"]
        m = self.msg()
        self.use('fut_cancel_msg' if m else 'fut_cancel')
        arg = '' if m is None else f'"{m}"'
        return [f"T(f'{{me}} F{k}.cancel -> {{F[{k}].cancel({arg})}}')"]

    def s_await_fut(self, ctx, depth):
        self.use('await_fut')
        k = self.r.randrange(self.nfut)
        tag = self.fresh('a')
        return self.guard(tag, [f'r = await F[{k}]',
                                f"T(f'{{me}} {tag} F{k} -> {{fv(r)}}')"])

    def s_cancel_task(self, ctx, depth):
        j = self.r.randrange(ctx['top'])
        m = self.msg()
        self.use('cancel_task_msg' if m else 'cancel_task')
        arg = '' if m is None else f'"{m}"'
        lines = [f"T(f'{{me}} cancel t{j} -> {{TS[{j}].cancel({arg})}}')"]
        if self.r.random() < 0.2:
            self.use('uncancel_other')
            lines.append(f"T(f'{{me}} uncancel t{j} -> "
                         f"{{TS[{j}].uncancel()}}')")
        return lines

    def s_self_cancel(self, ctx, depth):
        self.use('self_cancel')
        m = self.msg()
        arg = '' if m is None else f'"{m}"'
        tag = self.fresh('x')
        return [f"T(f'{{me}} self-cancel -> {{ct().cancel({arg})}}')"] + \
            self.guard(tag, ['await asyncio.sleep(0)',
                             f"T(f'{{me}} {tag} not cancelled')"])

    def s_cv(self, ctx, depth):
        if self.r.random() < 0.5:
            self.use('contextvar_set')
            return ["CV.set(me)"]
        self.use('contextvar_get')
        return ["T(f'{me} cv={CV.get()}')"]

    def s_remove_done_cb(self, ctx, depth):
        self.use('remove_done_cb')
        k = self.r.randrange(self.nfut)
        return ["cb = on_done(me + ' never')",
                f"F[{k}].add_done_callback(cb)",
                f"T(f'{{me}} F{k}.remove_done_callback -> "
                f"{{F[{k}].remove_done_callback(cb)}}')"]

    def s_peek(self, ctx, depth):
        self.use('peek')
        j = self.r.randrange(ctx['top'])
        return [f"T(f'{{me}} peek t{j} {{state(TS[{j}])}} "
                f"cancelling={{TS[{j}].cancelling()}}')"]

    def s_sleep_result(self, ctx, depth):
        self.use('sleep_result')
        tag = self.fresh('s')
        # sleep()'s no-wait path takes every delay <= 0
        delay = self.r.choice(['0', '-1', '0.0', 'delay=0'])
        return self.guard(tag, [f"r = await asyncio.sleep({delay}, "
                                f"result='{tag}')",
                                f"T(f'{{me}} {tag} -> {{r!r}}')"])

    def s_ensure_future(self, ctx, depth):
        self.use('ensure_future')
        fn = self.function(ctx, depth + 1)
        tag = self.fresh('ef')
        return self.guard(tag, [f"r = await asyncio.ensure_future({fn}())",
                                f"T(f'{{me}} {tag} -> {{fv(r)}}')"])

    # What a Lock's or Semaphore's holder may do: nothing that waits for
    # another task (which may be waiting for the lock).
    HOLDER_STATEMENTS = ('sleep0', 'note', 'resolve', 'await_fut', 'cv',
                         'call_soon', 'done_cb', 'peek', 'event_set',
                         'queue_put', 'sleep_result')

    def s_lock(self, ctx, depth):
        self.use('lock')
        tag = self.fresh('lk')
        inner = [f"T(f'{{me}} {tag} holds LOCK')"]
        ctx = dict(ctx, holder=True)
        for _ in range(self.r.randint(1, 2)):
            inner += self.statement(ctx, depth + 1)
        return self.guard(tag, ['async with LOCK:'] + _indent(inner) +
                          [f"T(f'{{me}} {tag} released')"])

    def s_semaphore(self, ctx, depth):
        self.use('semaphore')
        tag = self.fresh('sm')
        inner = [f"T(f'{{me}} {tag} in SEM locked={{SEM.locked()}}')"]
        ctx = dict(ctx, holder=True)
        for _ in range(self.r.randint(1, 2)):
            inner += self.statement(ctx, depth + 1)
        return self.guard(tag, ['async with SEM:'] + _indent(inner) +
                          [f"T(f'{{me}} {tag} left SEM')"])

    def s_event_wait(self, ctx, depth):
        self.use('event_wait')
        tag = self.fresh('ev')
        return self.guard(tag, ['r = await EVENT.wait()',
                                f"T(f'{{me}} {tag} EVENT -> {{r!r}}')"])

    def s_event_set(self, ctx, depth):
        self.use('event_set')
        if self.r.random() < 0.3:
            return ["T(f'{me} EVENT.clear')", 'EVENT.clear()']
        return ["T(f'{me} EVENT.set')", 'EVENT.set()']

    def s_queue_get(self, ctx, depth):
        self.use('queue_get')
        tag = self.fresh('q')
        return self.guard(tag, ['r = await QUEUE.get()',
                                f"T(f'{{me}} {tag} QUEUE.get -> {{r!r}}')"])

    def s_queue_put(self, ctx, depth):
        self.use('queue_put')
        return [f"QUEUE.put_nowait(me + ' item{self.fresh('')}')"]

    def s_await_task(self, ctx, depth):
        self.use('await_task')
        j = self.r.randrange(ctx['top'])
        tag = self.fresh('a')
        return self.guard(tag, [f'r = await TS[{j}]',
                                f"T(f'{{me}} {tag} t{j} -> {{fv(r)}}')"])

    def s_call_soon(self, ctx, depth):
        r = self.r
        name = self.fresh('cb')
        body = [f"T(f'{name} runs cv={{CV.get()}}')"]
        if r.random() < 0.5:
            k = r.randrange(self.nfut)
            body += [f'if not F[{k}].done():',
                     f"    F[{k}].set_result('{name}')"]
        if r.random() < 0.25:
            self.use('call_soon_raises')
            body.append(f"raise RuntimeError('{name} raises')")
        self.use('call_soon')
        self.defs.append('\n'.join([f'def {name}():'] + _indent(body)))
        return [f'asyncio.get_running_loop().call_soon({name})']

    def s_done_cb(self, ctx, depth):
        r = self.r
        self.use('done_cb')
        raises = r.random() < 0.2
        if raises:
            self.use('done_cb_raises')
        choices = [f'F[{r.randrange(self.nfut)}]']
        if ctx['top']:
            choices.append(f'TS[{r.randrange(ctx["top"])}]')
        if not ctx.get('main'):
            choices.append('ct()')
        target = r.choice(choices)
        tag = self.fresh('d')
        return [f"{target}.add_done_callback("
                f"on_done(f'{{me}}:{tag}:{{nm({target})}}', {raises}))"]

    def s_spawn(self, ctx, depth):
        self.use('spawn')
        fn = self.function(ctx, depth + 1)
        line = f"mk({fn}(), '{fn}.task')"
        if self.r.random() < 0.5:
            self.use('done_cb')
            line += f".add_done_callback(on_done('{fn}.task'))"
        return [line]

    def s_gather(self, ctx, depth):
        r = self.r
        n = r.choice([0, 1, 1, 2, 2, 3, 4])
        if n == 0:
            self.use('gather_empty')
        items = [self.awaitable(ctx, depth) for _ in range(n)]
        if n >= 2 and r.random() < 0.15:
            self.use('gather_duplicate')
            items.append(r.choice([i for i in items if i.endswith(']')]
                                  or ['F[0]']))
        rex = r.random() < 0.5
        self.use('gather_return_exceptions' if rex else 'gather')
        tag = self.fresh('g')
        body = [f"g = asyncio.gather({''.join(i + ', ' for i in items)}"
                f"return_exceptions={rex})"]
        how = r.random()
        if how < 0.15:
            self.use('gather_outer_cancel')
            m = self.msg()
            body.append(f"canceller(me + ' {tag}', g"
                        f"{'' if m is None else ', ' + repr(m)})")
        elif how < 0.3:
            self.use('gather_outer_cancel')
            m = self.msg()
            body.append(f"asyncio.get_running_loop().call_soon("
                        f"canceller, me + ' {tag}', g"
                        f"{'' if m is None else ', ' + repr(m)})")
        body += ['r = await g', f"T(f'{{me}} {tag} -> {{fv(r)}}')"]
        return self.guard(tag, body)

    def s_wait(self, ctx, depth):
        r = self.r
        n = r.randint(1, 4)
        items = []
        for _ in range(n):
            a = self.awaitable(ctx, depth)
            if a.startswith('Awaitable('):
                a = f'asyncio.ensure_future({a})'
            elif a.endswith('()'):
                a = f"mk({a}, '{a[:-2]}.task')"
            items.append(a)
        when = r.choice(['FIRST_COMPLETED', 'FIRST_EXCEPTION',
                         'ALL_COMPLETED'])
        self.use('wait_' + when.lower())
        timeout = r.choice([None, None, 0, 100])
        if timeout == 0:
            self.use('wait_timeout0')
        elif timeout == 100:
            self.use('wait_timeout_never')
        tag = self.fresh('w')
        return self.guard(tag, [
            f"done, pending = await asyncio.wait([{', '.join(items)}], "
            f"return_when=asyncio.{when}, timeout={timeout})",
            f"T(f'{{me}} {tag} done={{names(done)}} "
            f"pending={{names(pending)}}')"])

    def s_as_completed(self, ctx, depth):
        # as_completed() goes through its arguments in the order of a set:
        # it makes tasks of coroutines, and schedules the done callbacks of
        # what is already done, in that order.  So: new tasks only (an
        # eager one may be done at once: then only one).
        self.use('as_completed')
        items = []
        for _ in range(1 if self.eager else self.r.randint(1, 3)):
            fn = self.function(ctx, depth + 1)
            items.append(f"mk({fn}(), '{fn}.task')")
        tag = self.fresh('ac')
        listed = ', '.join(items)
        return self.guard(tag, [
            f"for i, aw in enumerate(asyncio.as_completed([{listed}])):",
            "    try:",
            "        r = await aw",
            f"        T(f'{{me}} {tag} #{{i}} -> {{fv(r)}}')",
            "    except Exception as e:",
            f"        T(f'{{me}} {tag} #{{i}} !{{fmt(e)}}')"])

    def s_wait_for(self, ctx, depth):
        r = self.r
        a = self.awaitable(ctx, depth)
        if r.random() < 0.3:
            self.use('shield')
            a = f'asyncio.shield({a})'
        timeout = r.choice([None, 0, 100])
        self.use('wait_for_timeout0' if timeout == 0 else 'wait_for')
        tag = self.fresh('wf')
        return self.guard(tag, [
            f'r = await asyncio.wait_for({a}, timeout={timeout})',
            f"T(f'{{me}} {tag} -> {{fv(r)}}')"])

    def s_shield(self, ctx, depth):
        self.use('shield')
        a = self.awaitable(ctx, depth)
        tag = self.fresh('sh')
        return self.guard(tag, [f'r = await asyncio.shield({a})',
                                f"T(f'{{me}} {tag} -> {{fv(r)}}')"])

    def s_taskgroup(self, ctx, depth):
        r = self.r
        self.use('taskgroup')
        tag = self.fresh('tg')
        # One child: the TaskGroup keeps its children in a set and cancels
        # them in the set's order (by address) when it aborts, which is not
        # the same from one run to the next even on stock asyncio.
        fn = self.function(ctx, depth + 1)
        inner = [f"tg.create_task({fn}(), name='{fn}.tg')"]
        if r.random() < 0.5:
            inner.append(f"T(f'{{me}} {tag} body sleeps')")
            inner.append('await asyncio.sleep(0)')
        if r.random() < 0.2:
            self.use('taskgroup_body_raises')
            inner.append(f"raise ValueError('{tag} body')")
        body = ['async with asyncio.TaskGroup() as tg:'] + _indent(inner)
        body.append(f"T(f'{{me}} {tag} exited')")
        return self.guard(tag, body)

    def s_timeout(self, ctx, depth):
        r = self.r
        self.use('timeout')
        delay = r.choice([0, -1, 100, 100, None])
        self.use({0: 'timeout0', -1: 'timeout0', 100: 'timeout_never',
                  None: 'timeout_none'}[delay])
        tag = self.fresh('to')
        inner = []
        if r.random() < 0.25:
            self.use('timeout_reschedule_past')
            inner.append('cm.reschedule(0)')
        for _ in range(r.randint(1, 3)):
            inner += self.statement(ctx, depth + 1)
        body = [f'async with asyncio.timeout({delay}) as cm:'] + \
            _indent(inner) + [f"T(f'{{me}} {tag} exited')"]
        lines = ['cm = None'] + self.guard(tag, body)
        lines += [f"T(f'{{me}} {tag} expired="
                  f"{{cm.expired() if cm else None}}')"]
        return lines

    # -- the program -------------------------------------------------------
    def program(self):
        r = self.r
        ntop = r.randint(1, 5)
        for i in range(ntop):
            self.function({'top': i}, 0, name=f't{i}')
        main = ['async def main():',
                '    me = "main"',
                '    loop = asyncio.get_running_loop()',
                '    loop.set_exception_handler(handler)']
        if self.eager:
            self.use('eager')
            main.append('    loop.set_task_factory(EAGER_FACTORY)')
        elif r.random() < 0.1:
            self.use('task_factory')
            main.append('    loop.set_task_factory(plain_factory)')
        for k in range(self.nfut):
            if r.random() < 0.2:
                self.use('future_subclass')
                main.append('    F.append(SubFuture(loop=loop))')
            else:
                main.append('    F.append(loop.create_future())')
        for i in range(ntop):
            line = f"    TS.append(mk(t{i}(), 't{i}'))"
            main.append(line)
            if r.random() < 0.5:
                self.use('done_cb')
                main.append(f"    TS[{i}].add_done_callback("
                            f"on_done('t{i}'))")
            if r.random() < 0.3:
                main += _indent(self.statement({'top': i + 1, 'main': True},
                                               0))
        main += _indent(self.body({'top': ntop, 'main': True}, 0,
                                  r.randint(0, 4)))
        main.append('    await final_phase()')
        main.append("    return 'main done'")
        src = '\n\n\n'.join(self.defs + ['\n'.join(main)]) + '\n'
        return src


def generate(seed):
    g = _Gen(seed)
    src = g.program()
    return Program(seed, src, frozenset(g.features))
