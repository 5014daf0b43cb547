"""Where two networks first part, decided in one place: the blocks of ERFNet in network order, the block each
row of a weight or layer table belongs to, and `first_divergence`, the first block with a failing row and why
(the weight table's finding there, in words, or the first layer-table row that fails there). parity/pair.py
calls it; the engine and the weight table take their rows' blocks from `block_of`."""
from dataclasses import dataclass

from facts.spec import layer_table

HEAD = "encoder.output_conv"
NETWORK = "network"


@dataclass
class Divergence:
    block: str
    why: str

    def __str__(self):
        return f"first divergence: {self.block}: {self.why}"


def block_ranks():
    """Every block of ERFNet in network order, the whole network last."""
    table = layer_table()
    names = ["encoder.initial_block", *(f"encoder.layers.{i}" for i in range(len(table.encoder_layers))), HEAD,
             *(f"decoder.layers.{i}" for i in range(len(table.decoder_layers))), "decoder.output_conv", NETWORK]
    return {name: rank for rank, name in enumerate(names)}


def block_of(name):
    """The block a row or parameter belongs to (`encoder.layers.3.bn1.gamma`, `encoder.layers.3 input` ->
    `encoder.layers.3`); rows of the whole network ("network", "loss", "input gradient") belong to NETWORK."""
    parts = name.replace(" input", "").split(".")
    if parts[0] not in ("encoder", "decoder"):
        return NETWORK
    return ".".join(parts[:3] if len(parts) > 2 and parts[1] == "layers" else parts[:2])


def table_block(table, row):
    """The block a layer-table row measures: end-to-end rows measure the whole network, even those of one
    parameter's gradient."""
    return NETWORK if table.end_to_end else block_of(row.name)


def first_divergence(weights, tables):
    """The first block in network order with a failing row, and why: the weight table's finding there, or else the
    first layer-table row that fails there."""
    ranks = block_ranks()
    failing = {r.block for r in weights if not r.passed}
    failing |= {table_block(t, r) for t in tables for r in t.rows if not r.passed}
    if not failing:
        return None
    block = min(failing, key=lambda name: ranks.get(name, len(ranks)))
    if any(r.block == block and not r.passed for r in weights):
        return Divergence(block, describe_block(block, weights))
    title, row = next((t.title, r) for t in tables for r in t.rows if not r.passed and table_block(t, r) == block)
    label = title.split(" (")[0].split(":")[0]
    return Divergence(block, f"{label}: {row.name} differs by {row.relative:.2g} (bar {row.tolerance:.0e}) while the "
                             f"weights there equal REF's: the MindSpore network computes differently")


def local(name, block):
    return name[len(block) + 1:] if name.startswith(block + ".") else name


def describe_block(block, rows):
    """Why `block` differs, in a few words, from its failing rows among `rows` (all the table's rows)."""
    failing = [r for r in rows if r.block == block and not r.passed]
    mine = [r for r in rows if r.block == block and r.reference_key]
    partner_blocks = {block_of(r.finding.partner) if r.finding.partner else None for r in failing}
    if len(failing) == len(mine) > 1 and len(partner_blocks) == 1 and None not in partner_blocks:
        other = partner_blocks.pop()
        if other != block and all(local(r.finding.partner, other) == local(r.name, block) for r in failing):
            returned = [r for r in rows if r.block == other and not r.passed and r.finding.partner
                        and block_of(r.finding.partner) == block]
            return f"{block} and {other} exchanged" if returned else f"holds {other}'s tensors"
    by_name = {r.name: r for r in rows}
    phrases, done = [], set()
    for r in failing:
        if r.name in done:
            continue
        partner = by_name.get(r.finding.partner)
        if partner is not None and not partner.passed and partner.finding.partner == r.name:
            done |= {r.name, partner.name}
            transform = r.finding.kind.partition(", ")[2]
            phrases.append(exchanged(local(r.name, block), local(partner.name, block)) + (f" ({transform})"
                                                                                           if transform else ""))
            continue
        alike = [s for s in failing
                 if s.name not in done and s.finding.kind == r.finding.kind and not s.finding.partner]
        if not r.finding.partner and len(alike) > 1:
            done |= {s.name for s in alike}
            phrases.append(f"{', '.join(local(s.name, block) for s in alike)}: {r.finding.kind}")
            continue
        done.add(r.name)
        phrases.append(f"{local(r.name, block)}: {r.finding.detail}" if r.name.startswith(block + ".")
                       else r.finding.detail)
    return "; ".join(phrases)


def exchanged(first, second):
    """`bn1 gamma and beta exchanged` for two tensors of one module, else both names in full."""
    module, _, leaf = first.rpartition(".")
    other_module, _, other_leaf = second.rpartition(".")
    if module and module == other_module:
        return f"{module} {leaf} and {other_leaf} exchanged"
    return f"{first} and {second} exchanged"
