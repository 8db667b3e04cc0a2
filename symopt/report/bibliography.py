"""The write-up's small built-in bibliography, cited by number in a fixed order.

>>> cite("lion"), cite("pbt")
('[1]', '[5]')
>>> print(REFERENCES[1].text())
I. Loshchilov, F. Hutter. Decoupled Weight Decay Regularization. ICLR 2019. arXiv:1711.05101.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    key: str
    authors: str
    title: str
    venue: str
    year: int
    arxiv: str

    def text(self) -> str:
        """The reference as one line of plain text."""
        return f"{self.authors}. {self.title}. {self.venue} {self.year}. arXiv:{self.arxiv}."


REFERENCES = (
    Reference("lion", "X. Chen, C. Liang, D. Huang, E. Real, K. Wang, Y. Liu, H. Pham, "
              "X. Dong, T. Luong, C.-J. Hsieh, Y. Lu, Q. V. Le",
              "Symbolic Discovery of Optimization Algorithms", "NeurIPS", 2023, "2302.06675"),
    Reference("adamw", "I. Loshchilov, F. Hutter", "Decoupled Weight Decay Regularization",
              "ICLR", 2019, "1711.05101"),
    Reference("regevo", "E. Real, A. Aggarwal, Y. Huang, Q. V. Le",
              "Regularized Evolution for Image Classifier Architecture Search", "AAAI", 2019,
              "1802.01548"),
    Reference("automlzero", "E. Real, C. Liang, D. R. So, Q. V. Le",
              "AutoML-Zero: Evolving Machine Learning Algorithms From Scratch", "ICML", 2020,
              "2003.03384"),
    Reference("pbt", "M. Jaderberg, V. Dalibard, S. Osindero, W. M. Czarnecki, J. Donahue, "
              "A. Razavi, O. Vinyals, T. Green, I. Dunning, K. Simonyan, C. Fernando, "
              "K. Kavukcuoglu", "Population Based Training of Neural Networks", "arXiv", 2017,
              "1711.09846"),
)
_NUMBER = {r.key: i for i, r in enumerate(REFERENCES, 1)}


def cite(key: str) -> str:
    """The citation mark of `key` (a `KeyError` for a reference not in the list)."""
    return f"[{_NUMBER[key]}]"
