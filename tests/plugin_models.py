"""Plug-in models the model port's tests build themselves (no download): ONNX graphs made with
onnx.helper, and the texts on each side of the cascade's band."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from cvguard.detection.screen import Screener

BAND = (0.2, 0.8)
# Candidates for each side of the band; which fall where is read from the built-in model itself,
# so the tests hold when the model is retrained.
CLEAR_POOL = ["今天天气不错", "你这个傻逼", "垃圾", "黑鬼", "谢谢大家的支持", "明天一起去爬山吧"]
UNSURE_POOL = [
    "我真是个傻子", "女司机就是不行", "有些人真是没救了", "这种人就该被骂", "你真是个天才呢",
    "他长得真丑", "你好", "滚", "河南人怎么了", "娘炮", "有病吧", "你行你上啊",
]


def _split() -> tuple[list[str], list[str]]:
    screener = Screener.default()
    clear = [t for t in CLEAR_POOL if not BAND[0] <= screener.screen(t).score < BAND[1]]
    unsure = [t for t in UNSURE_POOL if BAND[0] <= screener.screen(t).score < BAND[1]]
    assert len(clear) >= 2 and len(unsure) >= 2, (clear, unsure)
    return clear, unsure


CLEAR, UNSURE = _split()


def text_model(path: Path, scores: dict[str, float], default: float = 0.5) -> Path:
    """An ONNX graph over a 1-D string tensor: a lookup of known texts, ``default`` otherwise."""
    node = helper.make_node(
        "LabelEncoder", ["text"], ["score"], domain="ai.onnx.ml",
        keys_strings=list(scores), values_floats=list(scores.values()), default_float=default,
    )
    graph = helper.make_graph(
        [node], "lookup", [helper.make_tensor_value_info("text", TensorProto.STRING, [None])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def token_model(path: Path, weights: list[float]) -> Path:
    """A BERT-shaped graph: input_ids, attention_mask → the highest weight of a real token."""
    table = helper.make_tensor("w", TensorProto.FLOAT, [len(weights)], weights)
    nodes = [
        helper.make_node("Gather", ["w", "input_ids"], ["per_token"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["per_token", "mask"], ["masked"]),
        helper.make_node("ReduceMax", ["masked"], ["score"], axes=[1], keepdims=0),
    ]
    ids = [helper.make_tensor_value_info(n, TensorProto.INT64, [None, None])
           for n in ("input_ids", "attention_mask", "token_type_ids")]
    graph = helper.make_graph(
        nodes, "tokens", ids, [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None])],
        initializer=[table],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path
