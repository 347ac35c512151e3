"""The story tree (ctrl+n): every turn, branch and alternative of the session, opened lazily.

The engine reads the tree's shape in one query (``engine.story_tree``); this screen adds nodes
only as they are opened: the main branch in chunks of ``CHUNK`` turns (only the chunk holding
the head is open at first), alternatives under the turn they replace. A session of 10,000
messages opens with about a hundred nodes. Enter on a turn continues the story from there;
t shows that turn's trace. Dismisses with ("branch" | "trace", message id) or None.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from qualia_cli.engine import StoryTree

CHUNK = 100  # turns per node of a long branch
LABEL = 110  # characters of a turn's label

NodeData = tuple[str, Any]  # ("turn", first_id) | ("chunk", [first_ids]) | ("fork", first_id)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class StoryTreeScreen(ModalScreen[tuple[str, int] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("t", "trace", "Trace of this turn"),
    ]

    def __init__(self, tree: StoryTree, partner: str) -> None:
        super().__init__()
        self.story = tree
        self.partner = partner.split()[0] if partner.strip() else "She"
        self._filled: set[int] = set()  # ids of tree nodes whose children were added
        self.head_node: TreeNode[NodeData] | None = None

    def compose(self) -> ComposeResult:
        forks = sum(max(0, len(t.children) - 1) for t in self.story.turns.values())
        with Vertical(classes="dialog -wide -tall", id="story-tree"):
            yield Static("Story tree", classes="dialog-title")
            yield Static(
                f"{plural(self.story.size - 1, 'turn')} · {plural(forks, 'alternative')}. "
                "enter: continue from "
                "that turn · space: open/close · t: its trace · ● where you are",
                classes="hint",
            )
            tree: Tree[NodeData] = Tree("Story", id="tree")
            tree.auto_expand = False
            tree.show_root = False
            yield tree

    def on_mount(self) -> None:
        tree = self.query_one(Tree)
        story = self.story
        if story.root is not None:
            self._add_run(tree.root, story.run(story.root))
        tree.root.expand()
        self._filled.add(tree.root.id)
        self._reveal_head(tree)
        tree.focus()

    # -- labels -----------------------------------------------------------------------------

    def _label(self, turn: int, prefix: str = "") -> Text:
        node = self.story.turns[turn]
        here = turn == self.story.head_turn
        mark = ("● ", "bold") if here else ("  ", "")
        if node.number == 0:
            words = f"opening · {self.partner}: {node.reply}"
        else:
            words = f"turn {node.number} · You: {node.player} → {self.partner}: {node.reply}"
        alts = self.story.alternative_index(turn)
        extra = f"  ({alts[0]}/{alts[1]})" if alts[1] > 1 and not prefix else ""
        style = "bold" if here else ("" if turn in self.story.on_path else "dim")
        return Text.assemble(mark, (prefix, "italic"), (cut(words, LABEL), style), (extra, "dim"))

    # -- nodes ------------------------------------------------------------------------------

    def _add_turn(self, parent: TreeNode[NodeData], turn: int) -> TreeNode[NodeData]:
        forks = self.story.forks(turn)
        data: NodeData = ("turn", turn)
        if forks:
            return parent.add(self._label(turn), data=data, allow_expand=True)
        return parent.add_leaf(self._label(turn), data=data)

    def _add_run(self, parent: TreeNode[NodeData], run: list[int]) -> None:
        """A branch: its turns, or chunks of CHUNK turns opened on demand when it is long."""
        if len(run) <= CHUNK:
            for turn in run:
                self._add_turn(parent, turn)
            return
        for i in range(0, len(run), CHUNK):
            part = run[i : i + CHUNK]
            first, last = (self.story.turns[t].number for t in (part[0], part[-1]))
            where = "opening" if first == 0 else f"turn {first}"
            label = Text(f"{where} – turn {last}", style="bold")
            parent.add(label, data=("chunk", part), allow_expand=True)

    def _fill(self, node: TreeNode[NodeData]) -> None:
        if node.id in self._filled or node.data is None:
            return
        self._filled.add(node.id)
        kind, value = node.data
        if kind == "chunk":
            for turn in value:
                self._add_turn(node, turn)
        elif kind == "turn":  # its alternatives, each a branch of its own
            for fork in self.story.forks(value):
                idx, count = self.story.alternative_index(fork)
                label = self._label(fork, f"alternative {idx}/{count}: ")
                node.add(label, data=("fork", fork), allow_expand=True)
        elif kind == "fork":
            run = self.story.run(value)
            self._add_run(node, run)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        event.stop()
        self._fill(event.node)

    def _reveal_head(self, tree: Tree[NodeData]) -> None:
        head = self.story.head_turn
        if head is None:
            return
        for node in list(tree.root.children):
            if node.data and node.data[0] == "chunk" and head in node.data[1]:
                self._fill(node)
                node.expand()
        found = [n for n in self._walk(tree.root) if n.data == ("turn", head)]
        if found:
            self.head_node = found[0]
            self.call_after_refresh(self._cursor_to_head)

    def _cursor_to_head(self) -> None:
        if self.head_node is not None:  # once the tree knows its lines
            tree = self.query_one(Tree)
            tree.move_cursor(self.head_node, animate=False)
            tree.scroll_to_node(self.head_node, animate=False)

    def _walk(self, node: TreeNode[NodeData]) -> list[TreeNode[NodeData]]:
        out = []
        for child in node.children:
            out.append(child)
            if child.is_expanded:
                out += self._walk(child)
        return out

    # -- actions ----------------------------------------------------------------------------

    def _turn_at_cursor(self) -> int | None:
        node = self.query_one(Tree).cursor_node
        if node is None or node.data is None or node.data[0] not in ("turn", "fork"):
            return None
        return int(node.data[1])

    def on_tree_node_selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        event.stop()
        data = event.node.data
        if data is None:
            return
        if data[0] == "chunk":
            event.node.toggle()
            return
        self.dismiss(("branch", self.story.turns[int(data[1])].last_id))

    def action_trace(self) -> None:
        turn = self._turn_at_cursor()
        if turn is not None:
            self.dismiss(("trace", self.story.turns[turn].last_id))

    def action_close(self) -> None:
        self.dismiss(None)
