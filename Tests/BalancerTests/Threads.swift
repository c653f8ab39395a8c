import Foundation

/// Runs `body(0..<count)` on `count` dedicated threads at once and waits for all of them.
/// Dedicated threads, not `concurrentPerform`: that runs only as many iterations at a time
/// as there are cores, so a writer could otherwise start only after the readers finished.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}
