"""PyTorch-layout weights to and from the ONNX LSTM / GRU / RNN operators, and whole models as ONNX graphs.

ONNX (opset 7 to 22, layout 0): one node per layer, both directions in one node.
  W [D, G*H, I]   R [D, G*H, H]   B [D, 2*G*H] = Wb ++ Rb   direction 0 = forward, 1 = reverse.
  Gate blocks: LSTM i, o, f, c (PyTorch i, f, g, o); GRU z, r, h (PyTorch r, z, n); RNN one block.
  GRU: linear_before_reset=1 is PyTorch's GRU, 0 (the ONNX default) is fusedrnn's reset-before GRU:
  h~ = g(X W_h^T + (r * H) R_h^T + Rb_h + Wb_h), so Rb_h is b_hh's n block, unchanged.
The per-layer converters only permute gate blocks, so round trips are exact. The ``onnx``
package is needed only by ``to_onnx_model`` / ``from_onnx_model``.
"""

from __future__ import annotations

import os

import numpy as np

from .. import cells, validate
from ..cells import CellSpec
from ..weights import layer_param_names
from . import _check_int, _float_array, _gate_order, _permute_gates, _read_layer, _resolve_cell

# ONNX's gate blocks named with PyTorch's gate names ("c" is g, "h" is n).
_ONNX_GATES = {
    "lstm": ("i", "o", "f", "g"),
    "gru": ("z", "r", "n"),
    "gru_reset_before": ("z", "r", "n"),
    "rnn_tanh": ("h",),
    "rnn_relu": ("h",),
}
_OP_TYPE = {"lstm": "LSTM", "gru": "GRU", "gru_reset_before": "GRU", "rnn_tanh": "RNN", "rnn_relu": "RNN"}
# Activations per direction that each cell computes (the ONNX defaults, except RNN relu).
_ACTIVATIONS = {
    "lstm": ["Sigmoid", "Tanh", "Tanh"],
    "gru": ["Sigmoid", "Tanh"],
    "gru_reset_before": ["Sigmoid", "Tanh"],
    "rnn_tanh": ["Tanh"],
    "rnn_relu": ["Relu"],
}
_DEFAULT_OPSET = 17


def _onnx_order(cell: CellSpec) -> np.ndarray:
    return _gate_order(cell, _ONNX_GATES[cell.name])


def to_onnx(params, cell, *, layer: int = 0, num_directions: int = 1) -> dict[str, np.ndarray]:
    """One layer's weights as the ``W``, ``R``, ``B`` inputs of an ONNX LSTM / GRU / RNN node.

    Parameters
    ----------
    params : dict of str to array
        PyTorch-named parameters (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
        ``bias_hh_l{k}``, and the ``_reverse`` ones when ``num_directions == 2``), e.g. a
        model's ``params`` or a ``torch.nn.LSTM`` state_dict. Shapes [G*H, I], [G*H, H], [G*H].
    cell : CellSpec or str
        The cell, e.g. ``model.cell`` or ``"gru_reset_before"``.
    layer : int
        Which layer k to convert.
    num_directions : int
        D: 1, or 2 for a bidirectional layer (forward, then reverse).

    Returns
    -------
    dict of str to numpy.ndarray
        ``"W"`` [D, G*H, I], ``"R"`` [D, G*H, H] and, when the layer has biases,
        ``"B"`` [D, 2*G*H] (input biases then recurrent biases), gate blocks in ONNX order
        (LSTM i, o, f, c; GRU z, r, h), dtype of ``params``. New arrays.

    Notes
    -----
    The node must be given ``linear_before_reset=1`` for ``cells.GRU`` and 0 (the ONNX
    default) for ``cells.GRU_RESET_BEFORE``, and ``activations=["Relu"] * D`` for
    ``cells.RNN_RELU``; ``to_onnx_model`` does this.
    """
    cell = _resolve_cell(cell)
    layer = _check_int(layer, "layer", 0)
    D = _check_int(num_directions, "num_directions", 1, 2)
    order = _onnx_order(cell)
    directions = [_read_layer(params, cell, layer, d) for d in range(D)]
    if D == 2:
        forward, reverse = directions
        if forward.w_ih.shape != reverse.w_ih.shape or (forward.b_ih is None) != (reverse.b_ih is None):
            raise ValueError(f"params: expected the reverse direction of layer {layer} to match the forward one, "
                             f"got weight_ih {reverse.w_ih.shape} vs {forward.w_ih.shape}")
    out = {
        "W": np.stack([_permute_gates(p.w_ih, order, axis=0) for p in directions]),
        "R": np.stack([_permute_gates(p.w_hh, order, axis=0) for p in directions]),
    }
    if directions[0].b_ih is not None:
        out["B"] = np.stack([
            np.concatenate([_permute_gates(p.b_ih, order, axis=0), _permute_gates(p.b_hh, order, axis=0)])
            for p in directions
        ])
    return out


def from_onnx(W, R, B=None, *, cell, layer: int = 0) -> dict[str, np.ndarray]:
    """PyTorch-named parameters of one layer from the ``W``, ``R``, ``B`` of an ONNX node.

    Parameters
    ----------
    W : array, [D, G*H, I]
        Input weights, gate blocks in ONNX order (LSTM i, o, f, c; GRU z, r, h).
    R : array, [D, G*H, H]
        Recurrent weights.
    B : array, [D, 2*G*H], optional
        Input biases then recurrent biases. None (a node without ``B``) gives no bias entries.
    cell : CellSpec or str
        The cell the node computes: for a GRU node, ``cells.GRU`` if its
        ``linear_before_reset`` is 1, ``cells.GRU_RESET_BEFORE`` if 0.
    layer : int
        The layer k the weights are named for.

    Returns
    -------
    dict of str to numpy.ndarray
        ``weight_ih_l{k}`` [G*H, I], ``weight_hh_l{k}`` [G*H, H] and, with ``B``,
        ``bias_ih_l{k}``, ``bias_hh_l{k}`` [G*H]; plus the ``_reverse`` entries when D = 2.
        Gate blocks in PyTorch order, dtype of the inputs. New arrays.
    """
    cell = _resolve_cell(cell)
    layer = _check_int(layer, "layer", 0)
    W = _float_array(W, "W")
    R = _float_array(R, "R")
    if R.ndim != 3 or R.shape[0] not in (1, 2) or R.shape[1] != cell.gates * R.shape[2]:
        raise ValueError(f"R: expected shape (D, G*H, H) with D in (1, 2) and G={cell.gates} for {cell.name}, "
                         f"got {R.shape}")
    D, GH, H = R.shape
    if W.ndim != 3 or W.shape[:2] != (D, GH):
        raise ValueError(f"W: expected shape ({D}, {GH}, I), got {W.shape}")
    if B is not None:
        B = _float_array(B, "B")
        if B.shape != (D, 2 * GH):
            raise ValueError(f"B: expected shape ({D}, {2 * GH}), got {B.shape}")
    back = np.argsort(_onnx_order(cell))
    params: dict[str, np.ndarray] = {}
    for d in range(D):
        w_ih, w_hh, b_ih, b_hh = layer_param_names(layer, d)
        params[w_ih] = _permute_gates(W[d], back, axis=0)
        params[w_hh] = _permute_gates(R[d], back, axis=0)
        if B is not None:
            params[b_ih] = _permute_gates(B[d, :GH], back, axis=0)
            params[b_hh] = _permute_gates(B[d, GH:], back, axis=0)
    return params


def to_onnx_model(model, path=None, *, dtype=np.float32, opset: int = _DEFAULT_OPSET,
                  initial_state: bool = True, lengths: bool = False):
    """A whole fusedrnn model as an ONNX graph that computes what ``model(x, state, lengths)`` does.

    One ONNX LSTM / GRU / RNN node per layer (both directions in the node); each layer's
    ``Y`` [T, D, B, H] is transposed and reshaped to [T, B, D*H] before it feeds the next.

    Parameters
    ----------
    model : fusedrnn.LSTM, fusedrnn.GRU or fusedrnn.RNN
        The model (its ``params``, ``cell``, sizes and ``batch_first`` are read).
    path : str or os.PathLike, optional
        Where to save the model as well.
    dtype : float32 or float64
        Element type of the graph. ONNX Runtime's CPU LSTM and GRU kernels run float32 only.
    opset : int
        ONNX opset to declare (>= 14).
    initial_state : bool
        Whether the graph takes the initial states as inputs ``h0`` (and ``c0`` for LSTM),
        [L*D, B, H]; without them the states start at zero.
    lengths : bool
        Whether the graph takes an int64 input ``lengths`` [B] (passed to the nodes'
        ``sequence_lens``). ONNX Runtime matches fusedrnn for lengths >= 1; for a length of 0 it
        returns zero final states where fusedrnn returns the initial ones.

    Returns
    -------
    onnx.ModelProto
        Inputs ``x`` ([T, B, I], or [B, T, I] when ``model.batch_first``), then the optional
        ones above; outputs ``y`` ([T, B, D*H] or [B, T, D*H]), ``h_n`` and, for LSTM, ``c_n``
        ([L*D, B, H]). T and B are symbolic. The model passes ``onnx.checker``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    dtype = validate.float_dtype(dtype)
    opset = _check_int(opset, "opset", 14)
    cell = _resolve_cell(model.cell)
    L, H, I = model.num_layers, model.hidden_size, model.input_size
    D = 2 if model.bidirectional else 1
    batch_first = bool(getattr(model, "batch_first", False))
    elem = helper.np_dtype_to_tensor_dtype(dtype)

    nodes, inits = [], []

    def constant(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    x_shape = ["B", "T", I] if batch_first else ["T", "B", I]
    inputs = [helper.make_tensor_value_info("x", elem, x_shape)]
    state_names = ["h0", "c0"] if cell.has_cell_state else ["h0"]
    if initial_state:
        inputs += [helper.make_tensor_value_info(name, elem, [L * D, "B", H]) for name in state_names]
    if lengths:
        inputs.append(helper.make_tensor_value_info("lengths", TensorProto.INT64, ["B"]))
        nodes.append(helper.make_node("Cast", ["lengths"], ["sequence_lens"], to=TensorProto.INT32))

    layer_input = "x"
    if batch_first:
        nodes.append(helper.make_node("Transpose", ["x"], ["x_time_major"], perm=[1, 0, 2]))
        layer_input = "x_time_major"
    merge_shape = constant("shape_T_B_DH", np.array([0, 0, -1], dtype=np.int64))  # 0 keeps T and B
    attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
    if cell.name.startswith("gru"):
        attrs["linear_before_reset"] = int(cell is cells.GRU)
    if cell is cells.RNN_RELU:
        attrs["activations"] = _ACTIVATIONS[cell.name] * D
    final_outputs = {name: [] for name in ("h_n", "c_n")[: len(state_names)]}
    for k in range(L):
        weights = to_onnx(model.params, cell, layer=k, num_directions=D)
        node_inputs = [layer_input]
        node_inputs += [constant(f"{key}_l{k}", weights[key].astype(dtype)) if key in weights else ""
                        for key in ("W", "R", "B")]
        node_inputs.append("sequence_lens" if lengths else "")
        for name in state_names:
            if initial_state:
                starts = constant(f"{name}_l{k}_start", np.array([k * D], dtype=np.int64))
                ends = constant(f"{name}_l{k}_end", np.array([(k + 1) * D], dtype=np.int64))
                axes = constant(f"{name}_l{k}_axis", np.array([0], dtype=np.int64))
                nodes.append(helper.make_node("Slice", [name, starts, ends, axes], [f"{name}_l{k}"]))
                node_inputs.append(f"{name}_l{k}")
            else:
                node_inputs.append("")
        while node_inputs[-1] == "":
            node_inputs.pop()
        outputs = [f"Y_l{k}"] + [f"{name}_l{k}" for name in final_outputs]
        nodes.append(helper.make_node(_OP_TYPE[cell.name], node_inputs, outputs, name=f"layer{k}", **attrs))
        for name in final_outputs:
            final_outputs[name].append(f"{name}_l{k}")
        # Y [T, D, B, H] -> [T, B, D, H] -> [T, B, D*H]: directions side by side, forward first.
        nodes.append(helper.make_node("Transpose", [f"Y_l{k}"], [f"Y_l{k}_tbdh"], perm=[0, 2, 1, 3]))
        layer_input = "y" if k == L - 1 and not batch_first else f"y_l{k}"
        nodes.append(helper.make_node("Reshape", [f"Y_l{k}_tbdh", merge_shape], [layer_input]))
    if batch_first:
        nodes.append(helper.make_node("Transpose", [layer_input], ["y"], perm=[1, 0, 2]))
    for name, parts in final_outputs.items():
        if len(parts) == 1:
            nodes.append(helper.make_node("Identity", parts, [name]))
        else:
            nodes.append(helper.make_node("Concat", parts, [name], axis=0))

    y_shape = ["B", "T", D * H] if batch_first else ["T", "B", D * H]
    outputs = [helper.make_tensor_value_info("y", elem, y_shape)]
    outputs += [helper.make_tensor_value_info(name, elem, [L * D, "B", H]) for name in final_outputs]
    graph = helper.make_graph(nodes, f"fusedrnn_{cell.name}", inputs, outputs, initializer=inits)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="fusedrnn",
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        onnx.save(proto, os.fspath(path))
    return proto


def _constants(graph) -> dict[str, np.ndarray]:
    """Every tensor of a graph whose value is known: initializers and Constant nodes."""
    from onnx import helper, numpy_helper

    known = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            known[node.output[0]] = numpy_helper.to_array(helper.get_attribute_value(node.attribute[0]))
    return known


def _node_cell(node, D: int) -> CellSpec:
    """The fusedrnn cell an ONNX recurrent node computes, or a ValueError saying what cannot be represented."""
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    where = f"node {node.name or node.output[0]!r} ({node.op_type})"
    for unsupported in ("clip", "activation_alpha", "activation_beta"):
        if unsupported in attrs:
            raise ValueError(f"{where}: expected no {unsupported!r} attribute, got {attrs[unsupported]!r}")
    if attrs.get("input_forget", 0):
        raise ValueError(f"{where}: expected input_forget=0, got {attrs['input_forget']}")
    if attrs.get("layout", 0) != 0:
        raise ValueError(f"{where}: expected layout=0, got {attrs['layout']}")
    if node.op_type == "LSTM" and len(node.input) > 7 and node.input[7]:
        raise ValueError(f"{where}: expected no peephole input P, got {node.input[7]!r}")
    activations = [a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", [])]
    if node.op_type == "LSTM":
        candidates = [cells.LSTM]
    elif node.op_type == "GRU":
        candidates = [cells.GRU if attrs.get("linear_before_reset", 0) else cells.GRU_RESET_BEFORE]
    else:
        candidates = [cells.RNN_TANH, cells.RNN_RELU]
    for cell in candidates:
        if not activations or [a.lower() for a in activations] == [a.lower() for a in _ACTIVATIONS[cell.name] * D]:
            return cell
    expected = " or ".join(str(_ACTIVATIONS[c.name] * D) for c in candidates)
    raise ValueError(f"{where}: expected activations {expected}, got {activations}")


def from_onnx_model(model, *, batch_first: bool = False):
    """A fusedrnn model holding the weights of the LSTM / GRU / RNN nodes of an ONNX model.

    The recurrent nodes are read in graph order as layers 0, 1, ...; their ``W``, ``R`` and
    ``B`` must be initializers or Constant nodes. Only the nodes are read, not the ops that
    connect them: the result computes the ONNX model when those nodes form a plain stack, as
    in ``to_onnx_model``'s graphs or PyTorch's export of ``torch.nn.LSTM`` & co.

    Parameters
    ----------
    model : onnx.ModelProto, str or os.PathLike
        The ONNX model, or the path of one.
    batch_first : bool
        ``batch_first`` of the returned model.

    Returns
    -------
    fusedrnn.LSTM, fusedrnn.GRU or fusedrnn.RNN
        dtype of the weights (float32 or float64); ``bias=False`` when no node has ``B``
        (zeros fill in for a node without ``B`` when another has one).

    Raises
    ------
    ValueError
        For what fusedrnn cannot compute: ``direction="reverse"``, peepholes, ``clip``,
        ``input_forget``, other activations, or nodes that differ in cell, size or direction.
    """
    import onnx

    from .. import layers

    if isinstance(model, (str, os.PathLike)):
        model = onnx.load(os.fspath(model))
    graph = model.graph
    nodes = [node for node in graph.node if node.op_type in ("LSTM", "GRU", "RNN")]
    if not nodes:
        raise ValueError("model: expected at least one ONNX LSTM, GRU or RNN node, got none")
    known = _constants(graph)
    layer_weights, specs = [], []
    for node in nodes:
        where = f"node {node.name or node.output[0]!r}"
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        direction = attrs.get("direction", b"forward")
        direction = direction.decode() if isinstance(direction, bytes) else direction
        if direction not in ("forward", "bidirectional"):
            raise ValueError(f"{where}: expected direction 'forward' or 'bidirectional', got {direction!r}")
        D = 2 if direction == "bidirectional" else 1
        cell = _node_cell(node, D)
        tensors = []
        for index, key in enumerate(("W", "R", "B")):
            name = node.input[index + 1] if len(node.input) > index + 1 else ""
            if name and name not in known:
                raise ValueError(f"{where} input {key}: expected an initializer or Constant, "
                                 f"got the computed tensor {name!r}")
            tensors.append(known[name] if name else None)
        W, R, B = tensors
        if W is None or R is None or R.ndim != 3 or attrs.get("hidden_size", R.shape[-1]) != R.shape[-1]:
            raise ValueError(f"{where}: expected W and R with R of shape (D, G*H, H), H = hidden_size "
                             f"{attrs.get('hidden_size')}, got R {None if R is None else R.shape}")
        specs.append((cell, D, R.shape[-1], W.shape[-1], W.dtype))
        layer_weights.append((W, R, B))
    cell, D, H, I, dtype = specs[0]
    for k, spec in enumerate(specs):
        expected = (cell, D, H, I if k == 0 else D * H, dtype)
        if spec != expected:
            raise ValueError(f"layer {k}: expected (cell, D, H, input size, dtype) "
                             f"{(cell.name, *expected[1:])} to continue the stack, got {(spec[0].name, *spec[1:])}")
    bias = any(B is not None for _, _, B in layer_weights)
    params = {}
    for k, (W, R, B) in enumerate(layer_weights):
        if bias and B is None:
            B = np.zeros((D, 2 * cell.gates * H), dtype=W.dtype)
        params.update(from_onnx(W, R, B, cell=cell, layer=k))
    kwargs = dict(input_size=I, hidden_size=H, num_layers=len(nodes), bias=bias, batch_first=batch_first,
                  bidirectional=D == 2, dtype=validate.float_dtype(dtype, "model weights"))
    if cell is cells.LSTM:
        result = layers.LSTM(**kwargs)
    elif cell in (cells.GRU, cells.GRU_RESET_BEFORE):
        result = layers.GRU(**kwargs, linear_before_reset=cell is cells.GRU)
    else:
        result = layers.RNN(**kwargs, nonlinearity="tanh" if cell is cells.RNN_TANH else "relu")
    result.load_state_dict(params)
    return result
