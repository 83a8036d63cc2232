//! Sparse vectors and posting lists: (term or paper id, weight) sorted by id.

/// A sparse vector sorted by term id.
pub(crate) type Vector = Vec<(u32, f32)>;
/// Papers (by index, ascending) and a score each.
pub(crate) type Postings = Vec<(u32, f32)>;

/// Dot product of two sparse vectors sorted by term.
pub(crate) fn dot(a: &Vector, b: &Vector) -> f32 {
    let (mut i, mut j, mut s) = (0, 0, 0.0);
    // Without branches on which list moves on: two papers' words interleave at random, so
    // such branches mispredict, and explaining a rated reader's picks takes a dot product
    // per liked paper and chosen paper.
    while i < a.len() && j < b.len() {
        let ((ta, x), (tb, y)) = (a[i], b[j]);
        s += if ta == tb { x * y } else { 0.0 };
        i += usize::from(ta <= tb);
        j += usize::from(tb <= ta);
    }
    s
}

/// Sorted by word and scaled to unit length.
pub(crate) fn normalise(v: &mut Vector) {
    v.sort_unstable_by_key(|x| x.0);
    unit_length(v);
}

/// Scaled to unit (L2) length, in the order it is in.
pub(crate) fn unit_length(v: &mut [(u32, f32)]) {
    let norm = v
        .iter()
        .map(|x| x.1 * x.1)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    for x in v.iter_mut() {
        x.1 /= norm;
    }
}
